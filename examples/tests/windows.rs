//! The windowed examples as users run them, separate processes against a broker: `page_views`
//! writes each user's views per window once, when the window closed; `fraud_alerts` raises one
//! alert per burst of payments on a card.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use tributary_examples::fraud_alerts::Alert;
use tributary_examples::page_views::ViewsPerWindow;
use tributary_testkit::{unique_name, TestBroker};

/// A time on a whole minute, for windows that start at it.
const BASE: i64 = 1_700_000_040_000;

fn produce(broker: &TestBroker, topic: &str, records: &[(&str, &str, i64)]) {
    let p: ThreadedProducer<DefaultProducerContext> = broker.client_config().create().unwrap();
    for (key, value, ts) in records {
        p.send(
            BaseRecord::to(topic)
                .key(*key)
                .payload(*value)
                .timestamp(*ts),
        )
        .unwrap();
    }
    p.flush(Duration::from_secs(30)).unwrap();
}

fn spawn(name: &str, broker: &TestBroker, app: &str, args: &[&str]) -> Child {
    Command::new(common::example(name))
        .args([
            "--bootstrap-server",
            &broker.bootstrap(),
            "--application-id",
            app,
        ])
        .args(args)
        .args([
            "-p",
            "session.timeout.ms=6000",
            "--commit-interval-ms",
            "200",
        ])
        .stdout(Stdio::null())
        .stderr(common::log(app))
        .spawn()
        .unwrap()
}

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_views_are_counted_per_user_and_window_once_each_window_closed() {
    let broker = TestBroker::start_with(&[("group.initial.rebalance.delay.ms", "0")]).await;
    let (input, output, app) = (
        unique_name("views"),
        unique_name("views-per-second"),
        unique_name("page-views"),
    );
    broker.create_topic(&input, 1).await;
    broker.create_topic(&output, 1).await;
    produce(
        &broker,
        &input,
        &[
            ("ann", "/home", BASE + 100),
            ("bob", "/home", BASE + 300),
            ("ann", "/cart", BASE + 900),
            ("ann", "/pay", BASE + 1_200),
            // late, within the grace period: still counted in the first window
            ("bob", "/faq", BASE + 950),
            // moves the time past every window's end plus grace
            ("zed", "/home", BASE + 5_000),
        ],
    );
    let child = spawn(
        "page_views",
        &broker,
        &app,
        &[
            "--input",
            &input,
            "--output",
            &output,
            "--window-ms",
            "1000",
            "--grace-ms",
            "500",
        ],
    );
    let got = common::read_text(&broker, &output, 3, Duration::from_secs(90));
    stop(child);
    let rows: Vec<(String, ViewsPerWindow)> = got
        .into_iter()
        .map(|(k, v)| (k, serde_json::from_str(&v).unwrap()))
        .collect();
    let row = |user: &str, start: i64, views: i64| {
        (
            user.to_string(),
            ViewsPerWindow {
                user: user.to_string(),
                window_start: start,
                window_end: start + 1_000,
                views,
            },
        )
    };
    // by window end, then user: the order the emit-final buffer keeps
    assert_eq!(
        rows,
        vec![
            row("ann", BASE, 2),
            row("bob", BASE, 2),
            row("ann", BASE + 1_000, 1)
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_payments_raises_one_alert_when_it_is_over() {
    let broker = TestBroker::start_with(&[("group.initial.rebalance.delay.ms", "0")]).await;
    let (input, output, app) = (
        unique_name("payments"),
        unique_name("alerts"),
        unique_name("fraud"),
    );
    broker.create_topic(&input, 1).await;
    broker.create_topic(&output, 1).await;
    let pay = |amount: f64| format!(r#"{{"amount":{amount},"merchant":"m"}}"#);
    let (p1, p2, p3, p4, p5) = (pay(10.0), pay(20.5), pay(1.0), pay(99.0), pay(5.0));
    produce(
        &broker,
        &input,
        &[
            ("card-1", &p1, BASE),
            ("card-2", &p4, BASE + 500),
            ("card-1", &p2, BASE + 1_000),
            ("card-1", &p3, BASE + 3_000),
            // a payment that is not JSON-readable as a payment is not one
            ("card-2", "{}", BASE + 3_500),
            // closes every session (gap 2 s)
            ("card-3", &p5, BASE + 60_000),
        ],
    );
    let child = spawn(
        "fraud_alerts",
        &broker,
        &app,
        &[
            "--input",
            &input,
            "--output",
            &output,
            "--gap-ms",
            "2000",
            "--min-payments",
            "3",
            "-p",
            "default.deserialization.exception.handler=org.apache.kafka.streams.errors.LogAndContinueExceptionHandler",
        ],
    );
    let got = common::read_text(&broker, &output, 1, Duration::from_secs(90));
    // nothing else comes: card-2 made one payment, card-3's session never closed
    let more = common::read_text(&broker, &output, 2, Duration::from_secs(3));
    stop(child);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(more.len(), 1, "{more:?}");
    let alert: Alert = serde_json::from_str(&got[0].1).unwrap();
    assert_eq!(got[0].0, "card-1");
    assert_eq!(
        alert,
        Alert {
            card: "card-1".into(),
            session_start: BASE,
            session_end: BASE + 3_000,
            payments: 3,
            total: 31.5,
        }
    );
}
