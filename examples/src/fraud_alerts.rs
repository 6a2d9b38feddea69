//! Fraud alerts from session windows: a card's payments close together (no gap longer than the
//! inactivity gap) form a session; a session with at least a threshold of payments raises one
//! alert when it has closed.
//!
//! Input: key = the card (UTF-8), value = a [`Payment`] as JSON (records without a card or a
//! payment are skipped). Output: key = the card, value = an [`Alert`] as JSON.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tributary_streams::{
    BufferConfig, Consumed, Grouped, Materialized, Produced, Serdes, SessionWindows,
    StreamsBuilder, StreamsError, Suppressed, Topology, Windowed,
};

/// A card payment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payment {
    /// The amount.
    pub amount: f64,
    /// Where.
    #[serde(default)]
    pub merchant: String,
}

/// A session's payments so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    /// How many.
    pub payments: i64,
    /// Their total amount.
    pub total: f64,
}

/// A burst of payments on one card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// The card.
    pub card: String,
    /// The first payment's time (ms).
    pub session_start: i64,
    /// The last payment's time (ms).
    pub session_end: i64,
    /// How many payments.
    pub payments: i64,
    /// Their total amount.
    pub total: f64,
}

/// The topology: payments from `input` in sessions per card closed by `gap` (late payments
/// accepted for `grace`), an alert to `output` for each closed session of at least
/// `min_payments` payments.
pub fn topology(
    input: &str,
    output: &str,
    gap: Duration,
    grace: Duration,
    min_payments: i64,
) -> Result<Topology, StreamsError> {
    let card = || Serdes::nullable(Serdes::string());
    let payment = || Serdes::nullable(Serdes::json::<Payment>());
    let builder = StreamsBuilder::new();
    builder
        .stream(input, Consumed::with(card(), payment()))
        .group_by_key(Grouped::with(card(), payment()))
        .windowed_by_session(SessionWindows::of_inactivity_gap_and_grace(gap, grace)?)
        .aggregate(
            Activity::default,
            |_, p: &Option<Payment>, a: Activity| Activity {
                payments: a.payments + 1,
                total: a.total + p.as_ref().map_or(0.0, |p| p.amount),
            },
            |_, a: Activity, b: Activity| Activity {
                payments: a.payments + b.payments,
                total: a.total + b.total,
            },
            Materialized::with(card(), Serdes::json::<Activity>()),
        )
        .suppress(Suppressed::until_window_closes(BufferConfig::unbounded()))
        .to_stream()
        .filter(move |_, a: &Option<Activity>| {
            a.as_ref().is_some_and(|a| a.payments >= min_payments)
        })
        .map(|k: &Windowed<Option<String>>, a: &Option<Activity>| {
            let card = k.key.clone().unwrap_or_default();
            let a = a.clone().unwrap_or_default();
            let alert = Alert {
                card: card.clone(),
                session_start: k.window.start,
                session_end: k.window.end,
                payments: a.payments,
                total: a.total,
            };
            (card, alert)
        })
        .to(output, Produced::with(Serdes::string(), Serdes::json()));
    builder.build()
}
