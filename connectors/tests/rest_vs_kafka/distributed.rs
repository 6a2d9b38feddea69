//! The distributed worker's sections (A1–A242) that apply to a standalone worker, replayed in
//! the recorded order on one worker: the same connectors (`src`, `sink`, `put1`, ...) with the
//! same files and topics, so that the recorded answers apply as they are. A standalone worker
//! differs in one way the comparisons adjust for: its create answer already lists the task (S7).
//!
//! Left out: statuses "right after" a change (A66, A79, A110, A129: our herder answers once the
//! change is done), repeats (A52), A133 (lists connectors of sections left out), the loggers
//! (A162–A183, not implemented), forwarding between workers (A201–A223), the internal
//! endpoints (A226, A239), plugin versions (A228–A230: `?version=` is not implemented), an
//! encoded slash (A236: Jetty refuses it with an HTML page; we decode it and answer for `a/b`),
//! OPTIONS (A238), and the second cluster (A243–A256).

use super::fixture::{recorded, Expected, Opts, Replay, Req, J};
use super::{append, setup, with_http_sink, Setup};

/// Standalone: the create answer lists the connector's task (S7, S17), where the distributed
/// worker's lists none yet.
fn with_task(name: &'static str) -> impl Fn(&mut Expected) {
    move |e| {
        if let Some(tasks) = e.json.as_mut().and_then(|j| j.get_mut("tasks")) {
            *tasks = J::Arr(vec![J::Obj(vec![
                ("connector".into(), J::Str(name.into())),
                ("task".into(), J::Num("0".into())),
            ])]);
        }
    }
}

/// Kafka lists the framework's settings (`name`, `connector.class`, `tasks.max`, converters,
/// transforms, errors, topic creation, ...) after a connector's own; we list the connector's
/// own only.
fn own_keys(n: usize) -> impl Fn(&mut Expected) {
    move |e| {
        if let Some(J::Arr(keys)) = &mut e.json {
            keys.truncate(n);
        }
    }
}

/// The list after "available connectors are: " is Java's `PluginDesc` text of each plugin
/// (classes, versions, class loader locations) and names our plugins, not Kafka's: only the
/// text before it is compared.
fn plugin_list() -> Opts {
    Opts::new().cut_after("available connectors are: ")
}

/// Our FileStreamSink's message goes on with the OS error, where Kafka's has it on a
/// `Caused by:` line of the trace.
const SINK_DIR_ERROR: &str = ": Is a directory (os error 21)";

pub async fn run() {
    let Setup {
        _broker,
        _dir,
        dir,
        worker,
        r,
    } = setup(false).await;
    append(&dir.join("src.txt"), "line one\nline two\nline three\n");
    append(&dir.join("paused.txt"), "p1\np2\n");
    std::fs::create_dir(dir.join("adir")).expect("a directory");

    // 1, 2: root, health, plugins
    for id in ["A1", "A2", "A3", "A4"] {
        r.replay(id).await;
    }
    r.check("A5", Opts::new().adjust(with_http_sink)).await;
    r.check("A6", Opts::new().adjust(with_http_sink)).await;
    r.check("A7", Opts::new().adjust(own_keys(3))).await;
    r.check("A8", Opts::new().adjust(own_keys(3))).await;
    r.check("A9", Opts::new().adjust(own_keys(1))).await;
    r.replay("A10").await;

    // 3: creating and reading back
    r.check("A11", Opts::new().adjust(with_task("src"))).await;
    r.replay("A12").await;
    r.eventually("A13", Opts::new()).await;
    // a connector's config is a HashMap: its key order is Java's
    r.check("A14", Opts::new().unordered()).await;
    r.replay("A15").await;
    r.eventually("A16", Opts::new()).await;
    r.eventually("A17", Opts::new()).await;
    r.eventually("A18", Opts::new()).await;
    r.check("A19", Opts::new().adjust(with_task("sink"))).await;
    r.check("A20", Opts::new().set()).await;
    r.eventually("A21", Opts::new().unordered()).await;
    for id in ["A22", "A23", "A24"] {
        r.check(id, Opts::new().unordered()).await;
    }
    r.eventually("A25", Opts::new()).await;
    r.eventually("A26", Opts::new()).await;
    r.replay("A27").await;
    r.check("A28", Opts::new().unordered()).await;

    // 4: create errors
    for id in ["A29", "A30", "A31", "A32", "A33", "A34", "A35", "A36"] {
        r.replay(id).await;
    }
    r.check("A37", plugin_list()).await;
    for id in ["A38", "A39", "A40"] {
        r.replay(id).await;
    }

    // 5: initial_state (a connector created PAUSED gets no tasks until resumed)
    for id in ["A41", "A42"] {
        r.replay(id).await;
    }
    r.check("A43", Opts::new().adjust(with_task("src-running")))
        .await;
    // the message locates the value in the body, whose length depends on the file paths
    r.check("A44", Opts::new().with_recorded_paths()).await;
    for id in ["A45", "A46", "A47"] {
        r.replay(id).await;
    }
    r.eventually("A48", Opts::new()).await;
    for id in ["A49", "A50", "A51"] {
        r.replay(id).await;
    }

    // 6: PUT and PATCH config
    r.check("A53", Opts::new().adjust(with_task("put1"))).await;
    for id in ["A54", "A55", "A56", "A57", "A58"] {
        r.replay(id).await;
    }
    r.check("A59", Opts::new().adjust(with_task("put2"))).await;
    for id in ["A60", "A61", "A62", "A63"] {
        r.replay(id).await;
    }
    r.check("A64", Opts::new().unordered()).await;

    // 7: pause and resume
    r.replay("A65").await;
    r.eventually("A67", Opts::new()).await;
    for id in ["A68", "A69"] {
        r.replay(id).await;
    }
    r.eventually("A70", Opts::new()).await;
    for id in ["A71", "A72", "A73", "A74", "A75"] {
        r.replay(id).await;
    }

    // 8: stop and offsets
    for id in ["A76", "A77", "A78"] {
        r.replay(id).await;
    }
    r.eventually("A80", Opts::new()).await;
    for id in ["A81", "A82", "A83", "A84", "A85", "A86"] {
        r.replay(id).await;
    }
    // Kafka's FileStreamSourceConnector.alterOffsets checks the offset's shape; our connectors
    // have no such hook, so the framework stores what it is given
    r.check(
        "A87",
        Opts::new().adjust(|e| {
            e.status = 200;
            e.json = J::parse(
                r#"{"message":"The offsets for this connector have been altered successfully"}"#,
            )
            .ok();
        }),
    )
    .await;
    for id in [
        "A88", "A89", "A90", "A91", "A92", "A93", "A94", "A95", "A96", "A97", "A98", "A99", "A100",
        "A101", "A102", "A103", "A104",
    ] {
        r.replay(id).await;
    }

    // 9: restarts and tasks
    for id in ["A105", "A106"] {
        r.replay(id).await;
    }
    r.eventually("A107", Opts::new()).await;
    for id in ["A108", "A109"] {
        r.replay(id).await;
    }
    r.eventually("A111", Opts::new()).await;
    r.eventually("A112", Opts::new()).await;
    for id in [
        "A113", "A114", "A115", "A116", "A117", "A118", "A119", "A120", "A121", "A122",
    ] {
        r.replay(id).await;
    }

    // 10: failed tasks
    r.check("A123", Opts::new().adjust(with_task("failsink")))
        .await;
    r.check("A124", Opts::new().adjust(with_task("failsrc")))
        .await;
    let sink_error = || Opts::new().replace(SINK_DIR_ERROR, "");
    r.eventually("A125", sink_error()).await;
    r.eventually("A126", sink_error()).await;
    r.eventually("A127", Opts::new()).await;
    r.check("A128", sink_error()).await;
    r.eventually("A130", sink_error()).await;
    r.replay("A131").await;
    r.eventually("A132", sink_error()).await;

    // 11: active topics
    for id in ["A134", "A135", "A136", "A137", "A138"] {
        r.replay(id).await;
    }
    append(&dir.join("src.txt"), "line four\n");
    r.eventually("A139", Opts::new()).await;

    // 12: unknown connector, path, method, media types
    for id in [
        "A140", "A141", "A142", "A143", "A144", "A145", "A146", "A147", "A148", "A149", "A150",
        "A151", "A152", "A153",
    ] {
        r.replay(id).await;
    }

    // 13: validation
    for id in ["A154", "A155", "A159", "A160", "A161"] {
        check_validate(&r, id).await;
    }
    r.replay("A156").await;
    r.replay("A157").await;
    r.check("A158", plugin_list()).await;

    // 14: loggers, but for the lists of every logger the JVM made (A162, A168, A169, A177)
    for id in [
        "A163", "A164", "A165", "A166", "A167", "A170", "A171", "A172", "A173", "A174", "A175",
        "A176", "A178", "A179", "A180", "A181", "A182", "A183",
    ] {
        r.replay(id).await;
    }

    // 15: delete
    for id in ["A184", "A185", "A186", "A187", "A188", "A189", "A190"] {
        r.replay(id).await;
    }

    // 16: a connector's life
    append(&dir.join("life.txt"), "l1\nl2\n");
    r.check("A191", Opts::new().adjust(with_task("life"))).await;
    for id in [
        "A192", "A193", "A194", "A195", "A196", "A197", "A198", "A199", "A200",
    ] {
        r.replay(id).await;
    }

    // 18: edge cases
    r.replay("A224").await;
    r.replay("A225").await;
    let names = r.send(&Req::bare("GET", "/connectors")).await.body;
    r.check(
        "A227",
        Opts::new().set().adjust(move |e| {
            // the recording's worker had other connectors by then
            e.json = J::parse(&names).ok();
        }),
    )
    .await;
    r.check("A231", Opts::new().adjust(with_task("a/b"))).await;
    for id in ["A232", "A233"] {
        r.replay(id).await;
    }
    r.check("A234", Opts::new().adjust(with_task("with space")))
        .await;
    for id in ["A235", "A237", "A240", "A241", "A242"] {
        r.replay(id).await;
    }
    worker.stop().await;
}

/// Validation answers: the same top-level shape, `name`, `error_count`, the same fields in every
/// definition and value, the same error messages, and the same value for every key both list.
/// We list the connector's own keys and the framework keys that have errors, where Kafka lists
/// every framework key with its group (`groups` has only "Common"), and we recommend no values.
async fn check_validate(r: &Replay, id: &str) {
    let rec = recorded(id);
    let ours = r.send(&rec.request).await;
    macro_rules! fail {
        ($what:expr) => {
            panic!("{id}: {}\n  ours: {}", $what, ours.body)
        };
    }
    if (ours.status, &ours.content_type) != (rec.answer.status, &rec.answer.content_type) {
        fail!(format!("status {} {:?}", ours.status, ours.content_type));
    }
    let kafka = rec.answer.json.clone().expect("a JSON answer");
    let body = ours.body.replace(&r.files, super::fixture::KAFKA_FILES);
    let ours_j = J::parse(&body).unwrap_or_else(|e| fail!(e));
    if kafka.keys() != ours_j.keys() {
        fail!(format!("keys {:?}", ours_j.keys()));
    }
    for key in ["name", "error_count"] {
        if kafka.get(key) != ours_j.get(key) {
            fail!(format!("{key}: Kafka {:?}", kafka.get(key)));
        }
    }
    let configs = |j: &J| -> Vec<J> {
        match j.get("configs") {
            Some(J::Arr(c)) => c.clone(),
            _ => Vec::new(),
        }
    };
    let (kc, oc) = (configs(&kafka), configs(&ours_j));
    let name_of = |c: &J| c.get("value").and_then(|v| v.get("name")).cloned();
    let errors_of = |list: &[J]| -> Vec<String> {
        let mut all: Vec<String> = list
            .iter()
            .filter_map(|c| c.get("value").and_then(|v| v.get("errors")))
            .map(J::text)
            .collect();
        all.sort();
        all.retain(|e| e != "[]");
        all
    };
    if errors_of(&kc) != errors_of(&oc) {
        fail!(format!("errors: Kafka {:?}", errors_of(&kc)));
    }
    for c in &oc {
        let k = kc
            .iter()
            .find(|k| name_of(k) == name_of(c))
            .unwrap_or_else(|| fail!(format!("{:?} is not in Kafka's answer", name_of(c))));
        for part in ["definition", "value"] {
            let (kp, op) = (k.get(part), c.get(part));
            if kp.map(J::keys) != op.map(J::keys) {
                fail!(format!("{part} fields of {:?}", name_of(c)));
            }
        }
        let mut kv = k.get("value").cloned().unwrap_or(J::Null);
        let mut ov = c.get("value").cloned().unwrap_or(J::Null);
        for v in [&mut kv, &mut ov] {
            if let Some(rec) = v.get_mut("recommended_values") {
                *rec = J::Arr(Vec::new());
            }
        }
        if kv != ov {
            fail!(format!("value: Kafka {} ≠ ours {}", kv.text(), ov.text()));
        }
    }
}
