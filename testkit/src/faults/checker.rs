//! The Jepsen-style checker of a fault run (design 7.4). It works on the history alone, so a
//! long run can be checked again later with [`check_file`].
//!
//! The truth is the final read of every partition after healing: `U` (read_uncommitted) and
//! `C` (read_committed); when a partition has several final reads of one isolation level, the
//! last one counts. A written value counts under one anomaly at most: a value that must be
//! there but is missing from `U` is *lost*; one in `U` but missing from `C` is *unseen
//! committed data*.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::path::Path;

use super::history::{self, Event, Op, Outcome, Rec, TxnOutcome};

/// How many examples a report keeps (one more line says how many were left out).
const MAX_EXAMPLES: usize = 20;
const ISOLATION: [&str; 2] = ["read_uncommitted", "read_committed"];

/// What a history holds, by kind of operation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpCounts {
    /// Sends acknowledged.
    pub sends_ok: usize,
    /// Sends definitely not written.
    pub sends_fail: usize,
    /// Sends of unknown outcome.
    pub sends_info: usize,
    /// Transactions committed.
    pub txns_committed: usize,
    /// Transactions aborted.
    pub txns_aborted: usize,
    /// Transactions of unknown outcome.
    pub txns_info: usize,
    /// Consumer polls.
    pub polls: usize,
    /// Records those polls returned.
    pub polled_records: usize,
    /// Records in the final read_uncommitted reads (the data in the logs).
    pub final_records: usize,
    /// Replica comparisons.
    pub replica_checks: usize,
}

impl OpCounts {
    /// The operations done: sends, transactions and polls.
    pub fn total(&self) -> usize {
        let sends = self.sends_ok + self.sends_fail + self.sends_info;
        sends + self.txns_committed + self.txns_aborted + self.txns_info + self.polls
    }
}

/// How many of each anomaly the checker found (the table of design 7.4).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Anomalies {
    /// Acknowledged sends' and committed transactions' values absent from the final read.
    pub lost: usize,
    /// Extra copies of values in the final read (read_uncommitted or read_committed).
    pub duplicate: usize,
    /// Replica comparisons that found divergent logs.
    pub divergent: usize,
    /// Gaps in a poll stream that hid a record the stream should have seen.
    pub skipped: usize,
    /// Offsets in a poll stream that did not increase.
    pub non_monotonic: usize,
    /// Aborted (or never committed) transactional values a read_committed reader saw.
    pub aborted_read: usize,
    /// Values that must be visible to read_committed readers but are not.
    pub unseen_committed: usize,
}

impl Anomalies {
    /// Each count with its name in the report, in the order of the design's table.
    pub fn by_kind(&self) -> [(&'static str, usize); 7] {
        [
            ("lost acknowledged write", self.lost),
            ("duplicate", self.duplicate),
            ("divergent replica logs", self.divergent),
            ("poll skipped an offset", self.skipped),
            ("non-monotonic offsets", self.non_monotonic),
            ("aborted read", self.aborted_read),
            ("unseen committed data", self.unseen_committed),
        ]
    }

    /// All anomalies together.
    pub fn total(&self) -> usize {
        self.by_kind().iter().map(|(_, n)| n).sum()
    }

    /// Whether the run is clean.
    pub fn is_empty(&self) -> bool {
        self.total() == 0
    }
}

/// The result of checking a history.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// What the history holds.
    pub ops: OpCounts,
    /// What was wrong.
    pub anomalies: Anomalies,
    /// Extra copies written under a later producer epoch than the first: Kafka allows them
    /// (librdkafka sends a batch that timed out again under a new epoch, which no broker can
    /// tell from a new batch), so they are reported, not counted as anomalies.
    pub epoch_bump_duplicates: usize,
    /// Notes (such as a missing final read) and the first 20 anomalies, human-readable, then
    /// possibly one line saying how many more were left out.
    pub examples: Vec<String>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.ops;
        let sends = [o.sends_ok, o.sends_fail, o.sends_info].map(|n| n.to_string());
        let txns = [o.txns_committed, o.txns_aborted, o.txns_info].map(|n| n.to_string());
        let (sends, txns, total) = (sends.join("/"), txns.join("/"), o.total());
        writeln!(
            f,
            "operations: {total} (sends ok/fail/info {sends}, txns committed/aborted/info {txns}, \
             polls {} with {} records)",
            o.polls, o.polled_records
        )?;
        for (name, n) in self.anomalies.by_kind() {
            writeln!(f, "{name}: {n}")?;
        }
        if self.epoch_bump_duplicates > 0 {
            writeln!(
                f,
                "duplicate under a new producer epoch (allowed): {}",
                self.epoch_bump_duplicates
            )?;
        }
        if !self.examples.is_empty() {
            writeln!(f, "examples:")?;
        }
        self.examples.iter().try_for_each(|e| writeln!(f, "  {e}"))
    }
}

/// Reads the history in `path` (see [`history::read`]) and checks it.
pub fn check_file(path: &Path) -> std::io::Result<Report> {
    Ok(check(&history::read(path)?))
}

/// Checks a history (see the module documentation). Never panics, whatever the events.
pub fn check(events: &[Event]) -> Report {
    let mut finals: BTreeMap<(i32, bool), &[Rec]> = BTreeMap::new();
    let mut txns = HashMap::new();
    let mut writers = BTreeMap::new();
    for op in events.iter().map(|e| &e.op) {
        match op {
            Op::FinalRead {
                partition: p,
                read_committed: rc,
                records,
            } => _ = finals.insert((*p, *rc), records),
            Op::Txn {
                values, outcome, ..
            } => txns.extend(values.iter().map(|(_, v)| (v.as_str(), *outcome))),
            Op::LogWriters { partition, batches } => {
                _ = writers.insert(*partition, batches.as_slice())
            }
            _ => {}
        }
    }
    let (u, c) = (View::new(&finals, false), View::new(&finals, true));
    let mut checker = Checker {
        u,
        c,
        txns,
        writers,
        ..Checker::default()
    };
    events.iter().for_each(|event| checker.event(&event.op));
    checker.duplicates();
    let uncommitted = finals.iter().filter(|((_, rc), _)| !rc);
    checker.ops.final_records = uncommitted.map(|(_, recs)| recs.len()).sum();

    let written = checker.written.iter();
    let both = written.flat_map(|p| [(*p, false), (*p, true)]);
    let missing = both.filter(|key| !finals.contains_key(key));
    let notes = missing.map(|(p, rc)| {
        let level = ISOLATION[usize::from(rc)];
        format!("note: no final {level} read of partition {p} (taken as empty)")
    });
    let mut examples: Vec<String> = notes.collect();
    let left_out = checker.examples.len().saturating_sub(MAX_EXAMPLES);
    examples.extend(checker.examples.into_iter().take(MAX_EXAMPLES));
    if left_out > 0 {
        examples.push(format!("... and {left_out} more not shown"));
    }
    let (ops, anomalies) = (checker.ops, checker.anomalies);
    Report {
        ops,
        anomalies,
        epoch_bump_duplicates: checker.epoch_bump_duplicates,
        examples,
    }
}

/// The final reads of every partition at one isolation level.
#[derive(Default)]
struct View<'a> {
    /// value → where it is, (partition, offset), in log order per partition.
    values: BTreeMap<&'a str, Vec<(i32, i64)>>,
    /// partition → the offsets of its records.
    offsets: HashMap<i32, BTreeSet<i64>>,
}

impl<'a> View<'a> {
    fn new(finals: &BTreeMap<(i32, bool), &'a [Rec]>, read_committed: bool) -> View<'a> {
        let mut view = View::default();
        let reads = finals.iter().filter(|((_, rc), _)| *rc == read_committed);
        for Rec {
            partition: p,
            offset: o,
            value,
        } in reads.flat_map(|(_, recs)| recs.iter())
        {
            view.values.entry(value).or_default().push((*p, *o));
            view.offsets.entry(*p).or_default().insert(*o);
        }
        view
    }

    fn places(&self, value: &str) -> &[(i32, i64)] {
        self.values.get(value).map_or(&[], Vec::as_slice)
    }

    /// The offset of `value` in `partition`, if it is there.
    fn find(&self, partition: i32, value: &str) -> Option<i64> {
        let mut places = self.places(value).iter();
        places.find(|(p, _)| *p == partition).map(|(_, o)| *o)
    }

    /// The first offset of `partition` strictly between `from` and `to`, and how many there are.
    fn gap(&self, partition: i32, from: i64, to: i64) -> Option<(i64, usize)> {
        let offsets = self.offsets.get(&partition).filter(|_| from < to)?;
        let mut inside = offsets.range(from + 1..to);
        let first = inside.next()?;
        Some((*first, 1 + inside.count()))
    }
}

/// What a written value should be, as its producer was told.
#[derive(Clone, Copy)]
enum Write {
    /// An acknowledged send (with the offset its acknowledgement named).
    Acked(Option<i64>),
    /// A plain send that failed or whose outcome is unknown.
    Plain,
    Committed,
    Aborted,
    /// A transaction of unknown outcome, of which this many values are read_committed.
    Unknown(usize),
}

/// The state of one check.
#[derive(Default)]
struct Checker<'a> {
    ops: OpCounts,
    u: View<'a>,
    c: View<'a>,
    /// Transactional values and how their transaction ended.
    txns: HashMap<&'a str, TxnOutcome>,
    /// Who wrote each partition's batches (first, last offset, producer id, epoch).
    writers: BTreeMap<i32, &'a [(i64, i64, i64, i16)]>,
    /// Extra copies written under a new producer epoch (allowed).
    epoch_bump_duplicates: usize,
    /// Partitions sends and transactions wrote to.
    written: BTreeSet<i32>,
    /// Written (partition, value)s already judged: each counts once.
    judged: HashSet<(i32, &'a str)>,
    /// The last offset polled per (process, stream, partition).
    last: HashMap<(u32, u64, i32), i64>,
    anomalies: Anomalies,
    examples: Vec<String>,
}

type Counter = fn(&mut Anomalies) -> &mut usize;

impl<'a> Checker<'a> {
    fn flag(&mut self, count: Counter, example: String) {
        *count(&mut self.anomalies) += 1;
        self.examples.push(example);
    }

    fn event(&mut self, op: &'a Op) {
        let ops = &mut self.ops;
        match op {
            Op::Send {
                partition: p,
                value,
                outcome,
                offset,
                ..
            } => {
                let (count, write) = match outcome {
                    Outcome::Ok => (&mut ops.sends_ok, Write::Acked(*offset)),
                    Outcome::Fail => (&mut ops.sends_fail, Write::Plain),
                    Outcome::Info => (&mut ops.sends_info, Write::Plain),
                };
                *count += 1;
                self.judge(*p, value, write);
            }
            Op::Txn {
                values, outcome, ..
            } => {
                let visible = values.iter().filter(|(p, v)| self.c.find(*p, v).is_some());
                let (count, write) = match outcome {
                    TxnOutcome::Committed => (&mut ops.txns_committed, Write::Committed),
                    TxnOutcome::Aborted => (&mut ops.txns_aborted, Write::Aborted),
                    TxnOutcome::Info => (&mut ops.txns_info, Write::Unknown(visible.count())),
                };
                *count += 1;
                values.iter().for_each(|(p, v)| self.judge(*p, v, write));
            }
            Op::Poll {
                process,
                stream,
                read_committed,
                records,
            } => {
                ops.polls += 1;
                ops.polled_records += records.len();
                records
                    .iter()
                    .for_each(|r| self.poll(*process, *stream, *read_committed, r));
            }
            Op::ReplicaCheck {
                partition: p,
                replicas,
                divergent,
                detail,
            } => {
                ops.replica_checks += 1;
                if *divergent {
                    let line = format!("divergent: partition {p}, replicas {replicas:?}: {detail}");
                    self.flag(|a| &mut a.divergent, line);
                }
            }
            Op::FinalRead { .. } | Op::Fault { .. } | Op::LogWriters { .. } => {}
        }
    }

    /// Lost writes, unseen committed data and aborted values in the final read_committed read.
    fn judge(&mut self, p: i32, v: &'a str, write: Write) {
        self.written.insert(p);
        if !self.judged.insert((p, v)) {
            return;
        }
        let (lost, unseen): (Counter, Counter) = (|a| &mut a.lost, |a| &mut a.unseen_committed);
        let aborted: Counter = |a| &mut a.aborted_read;
        let (count, example) = match (write, self.u.find(p, v), self.c.find(p, v)) {
            (Write::Acked(at), None, _) => {
                let at = at.map_or(String::new(), |o| format!(" at offset {o}"));
                (lost, format!("lost: {v} (partition {p}, acked{at})"))
            }
            (Write::Committed, None, _) => (
                lost,
                format!("lost: {v} (partition {p}, committed transaction)"),
            ),
            // plain data in the log is visible to read_committed readers, whatever the outcome
            (Write::Acked(_) | Write::Plain | Write::Committed, Some(o), None) => (
                unseen,
                format!("unseen committed: {v} (partition {p} offset {o})"),
            ),
            (Write::Unknown(visible), _, None) if visible > 0 => (
                unseen,
                format!(
                    "unseen committed: {v} (partition {p}) while {visible} value(s) of its \
                     transaction (outcome unknown) are read_committed"
                ),
            ),
            (Write::Aborted, _, Some(o)) => (
                aborted,
                format!("aborted read: {v} (partition {p} offset {o}) of an aborted transaction"),
            ),
            _ => return,
        };
        self.flag(count, example);
    }

    /// Skips, non-monotonic offsets and aborted reads, per (process, stream, partition).
    fn poll(&mut self, process: u32, stream: u64, read_committed: bool, rec: &'a Rec) {
        let Rec {
            partition: p,
            offset: o,
            value: v,
        } = rec;
        let level = ISOLATION[usize::from(read_committed)];
        let at = format!("process {process} stream {stream} partition {p} ({level})");
        match self.last.insert((process, stream, *p), *o) {
            Some(prev) if *o <= prev => self.flag(
                |a| &mut a.non_monotonic,
                format!("non-monotonic: {at} went from offset {prev} to {o}"),
            ),
            Some(prev) => {
                let view = if read_committed { &self.c } else { &self.u };
                if let Some((first, n)) = view.gap(*p, prev, *o) {
                    let past = format!("past {n} record(s), the first at offset {first}");
                    let line = format!("skipped: {at} went from offset {prev} to {o} {past}");
                    self.flag(|a| &mut a.skipped, line);
                }
            }
            None => {}
        }
        let why = match self.txns.get(v.as_str()) {
            _ if !read_committed => return,
            Some(TxnOutcome::Aborted) => "its transaction aborted",
            Some(_) if self.c.find(*p, v).is_none() => "not in the final read_committed read",
            _ => return,
        };
        let line = format!("aborted read: {at} returned {v} at offset {o}: {why}");
        self.flag(|a| &mut a.aborted_read, line);
    }

    /// Extra copies of a value: the larger excess of the two final reads, so that a copy seen
    /// by both counts once.
    fn duplicates(&mut self) {
        let values = self.u.values.keys().chain(self.c.values.keys());
        for v in values.copied().collect::<BTreeSet<_>>() {
            let (in_u, in_c) = (self.u.places(v), self.c.places(v));
            let extra = in_u.len().max(in_c.len()).saturating_sub(1);
            if extra == 0 {
                continue;
            }
            let copies = if in_u.len() >= in_c.len() {
                &in_u
            } else {
                &in_c
            };
            let line = format!("duplicate: {v} at {in_u:?}, read_committed at {in_c:?}");
            if self.each_by_another_epoch(copies) {
                self.epoch_bump_duplicates += extra;
                self.examples.push(format!(
                    "{line} (each copy by another producer epoch: allowed)"
                ));
            } else {
                self.anomalies.duplicate += extra;
                self.examples.push(line);
            }
        }
    }

    /// Whether the batches holding these copies were all written by one producer under
    /// different epochs (unknown writers count as not).
    fn each_by_another_epoch(&self, copies: &[(i32, i64)]) -> bool {
        let writer = |(p, o): &(i32, i64)| {
            let batches = self.writers.get(p)?;
            let i = batches.partition_point(|b| b.1 < *o);
            let (first, _, pid, epoch) = *batches.get(i)?;
            (first <= *o && pid >= 0).then_some((pid, epoch))
        };
        let Some(found) = copies.iter().map(writer).collect::<Option<Vec<_>>>() else {
            return false;
        };
        let one_producer = found.iter().all(|(pid, _)| *pid == found[0].0);
        let epochs: BTreeSet<i16> = found.iter().map(|(_, e)| *e).collect();
        one_producer && epochs.len() == found.len()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn num<T: std::str::FromStr<Err: fmt::Debug>>(word: &str) -> T {
        word.parse().unwrap()
    }

    /// An outcome by its name in the history (`ok`, `committed`, ...).
    fn outcome<T: serde::de::DeserializeOwned>(word: &str) -> T {
        serde_json::from_str(&format!("{word:?}")).unwrap()
    }

    fn rec(p: &str, o: &str, value: &str) -> Rec {
        let (partition, offset, value) = (num(p), num(o), value.into());
        Rec {
            partition,
            offset,
            value,
        }
    }

    /// A history, one event a line (`#` starts a comment):
    /// `send P VALUE ok|fail|info [OFFSET]`, `txn committed|aborted|info P:VALUE...`,
    /// `poll PROCESS STREAM rc|ru P:OFFSET:VALUE...`, `final P rc|ru OFFSET:VALUE...`,
    /// `replicas P same|divergent`, `fault KIND`.
    fn parse(text: &str) -> Vec<Event> {
        let lines = text
            .lines()
            .map(|l| l.split('#').next().unwrap_or_default());
        let words = lines.map(|l| l.split_whitespace().collect::<Vec<_>>());
        let ops = words.filter(|w| !w.is_empty()).map(|w| {
            let fields = |from| w[from..].iter().map(|f| f.split(':').collect::<Vec<_>>());
            match w[0] {
                "send" => Op::Send {
                    process: 1,
                    partition: num(w[1]),
                    value: w[2].into(),
                    outcome: outcome(w[3]),
                    offset: w.get(4).map(|o| num(o)),
                },
                "txn" => Op::Txn {
                    process: 2,
                    values: fields(2).map(|f| (num(f[0]), f[1].into())).collect(),
                    outcome: outcome(w[1]),
                },
                "poll" => Op::Poll {
                    process: num(w[1]),
                    stream: num(w[2]),
                    read_committed: w[3] == "rc",
                    records: fields(4).map(|f| rec(f[0], f[1], f[2])).collect(),
                },
                "final" => Op::FinalRead {
                    partition: num(w[1]),
                    read_committed: w[2] == "rc",
                    records: fields(3).map(|f| rec(w[1], f[0], f[1])).collect(),
                },
                "writers" => Op::LogWriters {
                    partition: num(w[1]),
                    batches: fields(2)
                        .map(|f| (num(f[0]), num(f[1]), num(f[2]), num(f[3])))
                        .collect(),
                },
                "replicas" => Op::ReplicaCheck {
                    partition: num(w[1]),
                    replicas: vec![1, 2, 3],
                    divergent: w[2] == "divergent",
                    detail: "batch at offset 7 differs".into(),
                },
                _ => Op::Fault {
                    kind: w[1].into(),
                    detail: String::new(),
                },
            }
        });
        ops.zip(0..)
            .map(|(op, time_ms)| Event { time_ms, op })
            .collect()
    }

    /// Checks `history`, asserting that it finds `n` anomalies of `kind` and no other kind.
    fn only(kind: &str, n: usize, history: &str) -> Report {
        let report = check(&parse(history));
        for (name, count) in report.anomalies.by_kind() {
            let expected = if name == kind { n } else { 0 };
            assert_eq!(count, expected, "{name} in\n{report}");
        }
        assert_eq!(report.examples.is_empty(), n == 0, "{report}");
        report
    }

    /// Sends (ok, fail, info), transactions (committed, aborted, info), group polls across two
    /// streams, read_committed polls over aborted data and markers (offsets 3, 5, 1, 3).
    const CLEAN: &str = "
        send 0 p1-0 ok 0
        send 0 p1-1 info
        send 0 p1-2 fail
        txn committed 0:t2-0-0 1:t2-0-1
        txn aborted 0:t2-1-0 1:t2-1-1
        txn info 0:t2-2-0
        fault kill-leader
        send 0 p1-3 ok 6
        send 1 p1-4 ok 4
        poll 3 1 ru 0:0:p1-0 0:1:p1-1 1:0:t2-0-1
        poll 3 1 ru 0:2:t2-0-0 0:4:t2-1-0 1:2:t2-1-1
        poll 3 2 ru 0:4:t2-1-0 0:6:p1-3   # a rebalance: back to the committed offset
        poll 4 1 ru 1:4:p1-4
        poll 5 1 rc 0:0:p1-0 0:1:p1-1 1:0:t2-0-1
        poll 5 1 rc 0:2:t2-0-0 0:6:p1-3 1:4:p1-4
        final 0 ru 0:p1-0 1:p1-1 2:t2-0-0 4:t2-1-0 6:p1-3
        final 0 rc 0:p1-0 1:p1-1 2:t2-0-0 6:p1-3
        final 1 ru 0:t2-0-1 2:t2-1-1 4:p1-4
        final 1 rc 0:t2-0-1 4:p1-4
        replicas 0 same
        replicas 1 same";

    #[test]
    fn a_clean_history_has_no_anomalies() {
        let report = only("", 0, CLEAN);
        let expected = "\
            operations: 14 (sends ok/fail/info 3/1/1, txns committed/aborted/info 1/1/1, \
            polls 6 with 15 records)\nlost acknowledged write: 0\nduplicate: 0\n\
            divergent replica logs: 0\npoll skipped an offset: 0\nnon-monotonic offsets: 0\n\
            aborted read: 0\nunseen committed data: 0\n";
        assert_eq!(report.to_string(), expected);
        let o = &report.ops;
        assert_eq!((o.final_records, o.replica_checks, o.total()), (8, 2, 14));
    }

    #[test]
    fn lost_acknowledged_writes() {
        let history = "
            send 0 p1-0 ok 0
            send 0 p1-1 ok 1                  # lost
            send 0 p1-2 ok                    # lost
            send 0 p1-3 info                  # may be missing
            txn committed 0:t2-0-0 1:t2-0-1   # t2-0-1 lost
            txn info 1:t2-1-0                 # may be missing
            final 0 ru 0:p1-0 1:t2-0-0
            final 0 rc 0:p1-0 1:t2-0-0
            final 1 ru
            final 1 rc";
        let report = only("lost acknowledged write", 3, history);
        let lost = [
            "lost: p1-1 (partition 0, acked at offset 1)",
            "lost: p1-2 (partition 0, acked)",
            "lost: t2-0-1 (partition 1, committed transaction)",
        ];
        assert_eq!(report.examples, lost);
    }

    #[test]
    fn a_partition_without_final_reads_loses_everything_and_says_so() {
        let history =
            "send 0 p1-0 ok 0 \n send 3 p1-1 ok 0 \n final 0 ru 0:p1-0 \n final 0 rc 0:p1-0";
        let report = only("lost acknowledged write", 1, history);
        let note = |level| format!("note: no final {level} read of partition 3 (taken as empty)");
        let lost = "lost: p1-1 (partition 3, acked at offset 0)".to_string();
        assert_eq!(
            report.examples,
            [note("read_uncommitted"), note("read_committed"), lost]
        );
    }

    #[test]
    fn a_copy_under_a_new_producer_epoch_is_allowed_one_under_the_same_epoch_is_not() {
        // (librdkafka sent p2-129 at epoch 1, its batch timed out, and sent it again at 2)
        let bumped = "
            send 1 p2-129 ok 68
            final 1 ru 67:p2-129 68:p2-129
            final 1 rc 67:p2-129 68:p2-129
            writers 1 60:66:1:0 67:67:1:1 68:68:1:2";
        let report = check(&parse(bumped));
        assert!(report.anomalies.is_empty(), "{report}");
        assert_eq!(report.epoch_bump_duplicates, 1);
        assert!(report.examples[0].ends_with("(each copy by another producer epoch: allowed)"));
        assert!(report
            .to_string()
            .contains("duplicate under a new producer epoch (allowed): 1"));
        // the same epoch twice is the broker's dedup failing; unknown writers count too
        let same = bumped.replace("67:67:1:1", "67:67:1:2");
        assert_eq!(only("duplicate", 1, &same).epoch_bump_duplicates, 0);
        let other_producer = bumped.replace("67:67:1:1", "67:67:7:1");
        only("duplicate", 1, &other_producer);
        only("duplicate", 1, &bumped.replace("writers 1", "writers 0"));
    }

    #[test]
    fn duplicates_count_extra_copies_once() {
        let history = "
            send 0 p1-0 ok 0
            send 0 p1-1 ok 1
            txn committed 1:t2-0-0
            final 0 ru 0:p1-0 1:p1-1 2:p1-0 3:p1-1 4:p1-1   # one extra p1-0, two extra p1-1
            final 0 rc 0:p1-0 1:p1-1 2:p1-0 3:p1-1 4:p1-1
            final 1 ru 0:t2-0-0 1:t2-0-0 2:p1-1             # one extra t2-0-0, p1-1 again
            final 1 rc 0:t2-0-0 2:p1-1 3:t2-0-0";
        let report = only("duplicate", 5, history);
        let p1_0 = "duplicate: p1-0 at [(0, 0), (0, 2)], read_committed at [(0, 0), (0, 2)]";
        assert_eq!(report.examples[0], p1_0);
        only(
            "duplicate",
            1,
            "send 0 a ok \n final 0 ru 0:a \n final 0 rc 0:a 1:a",
        );
    }

    #[test]
    fn divergent_replica_logs() {
        let history = "replicas 0 divergent \n replicas 1 same \n replicas 2 divergent";
        let report = only("divergent replica logs", 2, history);
        assert_eq!(report.ops.replica_checks, 3);
        let example = "divergent: partition 2, replicas [1, 2, 3]: batch at offset 7 differs";
        assert!(report.to_string().ends_with(&format!("\n  {example}\n")));
    }

    #[test]
    fn skips_count_gaps_holding_records_the_stream_should_see() {
        let history = "
            send 0 p1-0 ok 0
            txn aborted 0:t2-0-0 0:t2-0-1
            send 0 p1-1 ok 4
            send 0 p1-2 ok 5
            poll 1 1 rc 0:0:p1-0 0:4:p1-1 0:5:p1-2   # aborted data and a marker: no gap
            poll 2 1 ru 0:0:p1-0 0:4:p1-1            # one skip over offsets 1 and 2
            poll 3 1 rc 0:0:p1-0
            poll 3 1 rc 0:5:p1-2                     # one skip over offset 4
            final 0 ru 0:p1-0 1:t2-0-0 2:t2-0-1 4:p1-1 5:p1-2
            final 0 rc 0:p1-0 4:p1-1 5:p1-2";
        let report = only("poll skipped an offset", 2, history);
        let first = "skipped: process 2 stream 1 partition 0 (read_uncommitted) went from offset \
                     0 to 4 past 2 record(s), the first at offset 1";
        assert_eq!(report.examples[0], first);
    }

    #[test]
    fn non_monotonic_offsets_within_a_stream_and_partition() {
        let history = "
            send 0 p1-0 ok 0 \n send 0 p1-1 ok 1 \n send 0 p1-2 ok 2 \n send 1 p1-3 ok 0
            poll 1 1 ru 0:0:p1-0 0:1:p1-1 1:0:p1-3 0:1:p1-1   # 1 → 1, across partition 1
            poll 1 1 ru 0:0:p1-0 0:1:p1-1 0:2:p1-2            # 1 → 0
            poll 1 2 ru 0:0:p1-0 0:1:p1-1                     # a new stream starts over
            poll 2 1 ru 0:0:p1-0                              # so does another process
            final 0 ru 0:p1-0 1:p1-1 2:p1-2 \n final 0 rc 0:p1-0 1:p1-1 2:p1-2
            final 1 ru 0:p1-3 \n final 1 rc 0:p1-3";
        let report = only("non-monotonic offsets", 2, history);
        let first = "non-monotonic: process 1 stream 1 partition 0 (read_uncommitted) went from \
                     offset 1 to 1";
        assert_eq!(report.examples[0], first);
    }

    #[test]
    fn aborted_reads_by_polls_and_in_the_final_read() {
        let history = "
            txn aborted 0:t2-0-0
            txn info 0:t2-1-0
            txn aborted 0:t2-2-0
            send 0 p1-0 ok 6
            poll 1 1 rc 0:0:t2-0-0 0:2:t2-1-0 0:4:t2-2-0 0:6:p1-0   # three
            poll 1 2 rc 0:0:t2-0-0                                  # one more occurrence
            poll 2 1 ru 0:0:t2-0-0 0:2:t2-1-0                       # fine uncommitted
            final 0 ru 0:t2-0-0 2:t2-1-0 4:t2-2-0 6:p1-0
            final 0 rc 4:t2-2-0 6:p1-0                              # t2-2-0: one";
        let report = only("aborted read", 5, history);
        let last = "aborted read: t2-2-0 (partition 0 offset 4) of an aborted transaction";
        assert_eq!(report.examples[0], last);
        let poll = "aborted read: process 1 stream 1 partition 0 (read_committed) returned";
        let why = [
            "t2-0-0 at offset 0: its transaction aborted",
            "t2-1-0 at offset 2: not in the final read_committed read",
        ];
        assert_eq!(
            report.examples[1..3],
            why.map(|why| format!("{poll} {why}"))
        );
    }

    #[test]
    fn unseen_committed_data() {
        let history = "
            txn committed 0:t2-0-0 1:t2-0-1       # t2-0-1 unseen
            send 0 p1-0 ok 1                      # unseen
            send 0 p1-1 info                      # written as plain data, unseen
            txn info 0:t2-1-0 0:t2-1-1 1:t2-1-2   # partly visible: two unseen
            txn info 1:t2-2-0 1:t2-2-1            # wholly invisible: fine
            final 0 ru 0:t2-0-0 1:p1-0 2:p1-1 3:t2-1-0 4:t2-1-1
            final 0 rc 0:t2-0-0 3:t2-1-0
            final 1 ru 0:t2-0-1 1:t2-2-0
            final 1 rc";
        let report = only("unseen committed data", 5, history);
        assert_eq!(
            report.examples[0],
            "unseen committed: t2-0-1 (partition 1 offset 0)"
        );
    }

    #[test]
    fn examples_are_capped() {
        let sends: String = (0..50).map(|n| format!("send 0 p1-{n} ok\n")).collect();
        let history = format!("{sends} final 0 ru \n final 0 rc");
        let report = only("lost acknowledged write", 50, &history);
        assert_eq!(report.examples.len(), MAX_EXAMPLES + 1);
        assert_eq!(report.examples[MAX_EXAMPLES], "... and 30 more not shown");
    }

    #[test]
    fn odd_histories_do_not_panic() {
        assert_eq!(check(&[]), Report::default());
        let (min, max, process, stream) = (i64::MIN, i64::MAX, u32::MAX, u64::MAX);
        let recs = format!("0:{min}:a 0:{max}:b 0:{min}:c 0:-1:d 0:{max}:b");
        let history = format!(
            "poll 1 1 rc {recs} \n poll {process} {stream} ru {recs}
             final 0 ru {max}:b {min}:a 5:a \n final 0 rc {min}:a \n final 0 rc {max}:a
             txn committed \n txn aborted 0:a 0:a \n send -1 x ok -5 \n send 0 b fail"
        );
        assert!(check(&parse(&history)).anomalies.total() > 0);
    }

    #[test]
    fn check_file_reads_back_a_recorded_history() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let history = history::History::create(&path).unwrap();
        let events = parse(&format!("{CLEAN}\nsend 1 p1-9 ok 9")); // one lost write
        events.iter().for_each(|e| history.record(e.op.clone()));
        history.flush().unwrap();
        let report = check_file(&path).unwrap();
        assert_eq!(report, check(&events));
        assert_eq!((report.anomalies.lost, report.anomalies.total()), (1, 1));
        assert_eq!(report.ops.total(), 15);

        std::fs::write(&path, "{\"time_ms\": 0, \"f\": \"nonsense\"}\n").unwrap();
        let err = check_file(&path).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
        assert!(check_file(&dir.path().join("absent.jsonl")).is_err());
    }
}
