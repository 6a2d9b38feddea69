//! `tributary group`: list, describe, delete consumer groups and reset their offsets, as
//! Kafka's `kafka-consumer-groups.sh` does.

use crate::cli::output::outln;
use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use tributary_broker::group::consumer_protocol::assigned_partitions;

use super::client::{blocking, explain, ConnectArgs};

#[derive(Subcommand)]
pub enum GroupCommand {
    /// List consumer groups
    List(ListArgs),
    /// Show a group's state, members and, per partition, committed offset, log end and lag
    Describe(DescribeArgs),
    /// Delete groups that have no members, with their committed offsets
    Delete(DeleteArgs),
    /// Move a group's committed offsets (dry run unless --execute)
    ResetOffsets(ResetArgs),
}

#[derive(Args)]
pub struct ListArgs {
    /// Only groups in this state (Empty, Stable, PreparingRebalance, CompletingRebalance)
    #[arg(long)]
    pub state: Option<String>,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Args)]
pub struct DescribeArgs {
    /// Groups to describe
    #[arg(required = true)]
    pub groups: Vec<String>,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Args)]
pub struct DeleteArgs {
    /// Groups to delete
    #[arg(required = true)]
    pub groups: Vec<String>,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Args)]
pub struct ResetArgs {
    /// The group
    pub group: String,
    /// Topic, or TOPIC:P1,P2 for some partitions; repeatable
    #[arg(long = "topic", value_name = "TOPIC[:PARTITIONS]")]
    pub topics: Vec<String>,
    /// Every topic the group has committed offsets for
    #[arg(long, conflicts_with = "topics")]
    pub all_topics: bool,
    /// To the log start offset
    #[arg(long, group = "target")]
    pub to_earliest: bool,
    /// To the log end offset
    #[arg(long, group = "target")]
    pub to_latest: bool,
    /// To this offset (clamped into the log's range)
    #[arg(long, group = "target", value_name = "OFFSET")]
    pub to_offset: Option<i64>,
    /// To the first offset at or after this time: YYYY-MM-DDTHH:MM:SS[.sss] (UTC) or epoch ms
    #[arg(long, group = "target", value_name = "DATETIME")]
    pub to_datetime: Option<String>,
    /// Shift the committed offsets by N (negative moves back)
    #[arg(long, group = "target", value_name = "N", allow_hyphen_values = true)]
    pub shift_by: Option<i64>,
    /// Show the new offsets without changing anything (the default)
    #[arg(long, conflicts_with = "execute")]
    pub dry_run: bool,
    /// Commit the new offsets
    #[arg(long)]
    pub execute: bool,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// Runs a `group` subcommand.
pub async fn run(cmd: GroupCommand) -> anyhow::Result<()> {
    match cmd {
        GroupCommand::List(a) => list(a).await,
        GroupCommand::Describe(a) => describe(a).await,
        GroupCommand::Delete(a) => delete(a).await,
        GroupCommand::ResetOffsets(a) => reset(a).await,
    }
}

/// A consumer that never subscribes: it only reads and commits `group`'s offsets.
fn offsets_client(connect: &ConnectArgs, group: &str) -> anyhow::Result<BaseConsumer> {
    let mut cfg = connect.client_config()?;
    cfg.set("group.id", group)
        .set("enable.auto.commit", "false");
    cfg.create()
        .map_err(|e| explain(e, &connect.bootstrap_server))
}

/// A group as ListGroups + DescribeGroups show it.
struct Group {
    name: String,
    state: String,
    protocol_type: String,
    protocol: String,
    members: Vec<Member>,
}

struct Member {
    id: String,
    client_id: String,
    client_host: String,
    assignment: Vec<u8>,
}

async fn groups(connect: &ConnectArgs, group: Option<String>) -> anyhow::Result<Vec<Group>> {
    let cfg = connect.client_config()?;
    let timeout = connect.timeout();
    blocking(&connect.bootstrap_server, move || {
        let c: BaseConsumer = cfg.create()?;
        let list = c.fetch_group_list(group.as_deref(), timeout)?;
        Ok(list
            .groups()
            .iter()
            .map(|g| Group {
                name: g.name().into(),
                state: g.state().into(),
                protocol_type: g.protocol_type().into(),
                protocol: g.protocol().into(),
                members: g
                    .members()
                    .iter()
                    .map(|m| Member {
                        id: m.id().into(),
                        client_id: m.client_id().into(),
                        client_host: m.client_host().into(),
                        assignment: m.assignment().unwrap_or_default().to_vec(),
                    })
                    .collect(),
            })
            .collect())
    })
    .await
}

async fn list(a: ListArgs) -> anyhow::Result<()> {
    let mut all = groups(&a.connect, None).await?;
    all.sort_by(|x, y| x.name.cmp(&y.name));
    outln!("{:<40} {:<20} {:<12} MEMBERS", "GROUP", "STATE", "TYPE");
    for g in all {
        if a.state
            .as_ref()
            .is_some_and(|s| !s.eq_ignore_ascii_case(&g.state))
        {
            continue;
        }
        outln!(
            "{:<40} {:<20} {:<12} {}",
            g.name,
            g.state,
            g.protocol_type,
            g.members.len()
        );
    }
    Ok(())
}

/// Committed offsets of `group` for every partition of every topic (the group's view).
async fn committed(
    connect: &ConnectArgs,
    group: &str,
    only: Option<BTreeSet<String>>,
) -> anyhow::Result<BTreeMap<(String, i32), i64>> {
    let client = offsets_client(connect, group)?;
    let timeout = connect.timeout();
    blocking(&connect.bootstrap_server, move || {
        let md = client.fetch_metadata(None, timeout)?;
        let mut tpl = TopicPartitionList::new();
        for t in md.topics() {
            let wanted = match &only {
                Some(set) => set.contains(t.name()),
                None => !t.name().starts_with("__"),
            };
            if wanted {
                for p in t.partitions() {
                    tpl.add_partition(t.name(), p.id());
                }
            }
        }
        let got = client.committed_offsets(tpl, timeout)?;
        Ok(got
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(o) => Some(((e.topic().to_string(), e.partition()), o)),
                _ => None,
            })
            .collect())
    })
    .await
}

async fn watermarks(
    connect: &ConnectArgs,
    partitions: Vec<(String, i32)>,
) -> anyhow::Result<BTreeMap<(String, i32), (i64, i64)>> {
    let client = offsets_client(connect, "tributary-cli")?;
    let timeout = connect.timeout();
    blocking(&connect.bootstrap_server, move || {
        let mut out = BTreeMap::new();
        for (t, p) in partitions {
            let w = client.fetch_watermarks(&t, p, timeout)?;
            out.insert((t, p), w);
        }
        Ok(out)
    })
    .await
}

async fn describe(a: DescribeArgs) -> anyhow::Result<()> {
    for name in &a.groups {
        let found = groups(&a.connect, Some(name.clone())).await?;
        let Some(g) = found.into_iter().find(|g| &g.name == name) else {
            bail!("consumer group '{name}' does not exist");
        };
        if g.state == "Dead" {
            bail!("consumer group '{name}' does not exist");
        }
        let protocol = if g.protocol.is_empty() {
            g.protocol_type.to_string()
        } else {
            format!("{}/{}", g.protocol_type, g.protocol)
        };
        outln!(
            "Group: {name}\tState: {}\tProtocol: {}\tMembers: {}",
            g.state,
            if protocol.is_empty() { "-" } else { &protocol },
            g.members.len()
        );
        // who holds which partition
        let mut owner: BTreeMap<(String, i32), String> = BTreeMap::new();
        if !g.members.is_empty() {
            outln!();
            outln!(
                "{:<50} {:<24} {:<18} ASSIGNMENT",
                "MEMBER-ID",
                "CLIENT-ID",
                "HOST"
            );
        }
        for m in &g.members {
            let assigned = assigned_partitions(&m.assignment).unwrap_or_default();
            let shown: Vec<String> = assigned
                .iter()
                .map(|(t, ps)| {
                    let ps: Vec<String> = ps.iter().map(|p| p.to_string()).collect();
                    format!("{t}:{}", ps.join(","))
                })
                .collect();
            outln!(
                "{:<50} {:<24} {:<18} {}",
                m.id,
                m.client_id,
                m.client_host,
                if shown.is_empty() {
                    "-".to_string()
                } else {
                    shown.join(" ")
                }
            );
            for (t, ps) in assigned {
                for p in ps {
                    owner.insert((t.clone(), p), m.id.clone());
                }
            }
        }
        let offsets = committed(&a.connect, name, None).await?;
        let mut partitions: BTreeSet<(String, i32)> = offsets.keys().cloned().collect();
        partitions.extend(owner.keys().cloned());
        let marks = watermarks(&a.connect, partitions.iter().cloned().collect()).await?;
        outln!();
        outln!(
            "{:<30} {:>9} {:>15} {:>15} {:>10}  CONSUMER-ID",
            "TOPIC",
            "PARTITION",
            "CURRENT-OFFSET",
            "LOG-END-OFFSET",
            "LAG"
        );
        for tp in &partitions {
            let end = marks.get(tp).map(|w| w.1);
            let current = offsets.get(tp).copied();
            let lag = match (current, end) {
                (Some(c), Some(e)) => (e - c).max(0).to_string(),
                _ => "-".into(),
            };
            outln!(
                "{:<30} {:>9} {:>15} {:>15} {:>10}  {}",
                tp.0,
                tp.1,
                current.map_or("-".into(), |c| c.to_string()),
                end.map_or("-".into(), |e| e.to_string()),
                lag,
                owner.get(tp).map_or("-", String::as_str)
            );
        }
        outln!();
    }
    Ok(())
}

async fn delete(a: DeleteArgs) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = a
        .connect
        .client_config()?
        .create()
        .map_err(|e| explain(e, &a.connect.bootstrap_server))?;
    let names: Vec<&str> = a.groups.iter().map(String::as_str).collect();
    let opts = AdminOptions::new().request_timeout(Some(a.connect.timeout()));
    let results = admin
        .delete_groups(&names, &opts)
        .await
        .map_err(|e| explain(e, &a.connect.bootstrap_server))?;
    let mut failed = 0;
    for r in results {
        match r {
            Ok(g) => outln!("Deleted group {g}."),
            Err((g, code)) => {
                failed += 1;
                let why = match code {
                    rdkafka::types::RDKafkaErrorCode::NonEmptyGroup => {
                        "the group has active members; stop its consumers first".to_string()
                    }
                    rdkafka::types::RDKafkaErrorCode::GroupIdNotFound => {
                        "no such group".to_string()
                    }
                    other => other.to_string(),
                };
                eprintln!("Cannot delete group {g}: {why}");
            }
        }
    }
    if failed > 0 {
        bail!("{failed} group(s) not deleted");
    }
    Ok(())
}

/// Parses `--to-datetime`: epoch milliseconds, or an ISO-8601 UTC date-time.
fn parse_datetime(s: &str) -> anyhow::Result<i64> {
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(ms);
    }
    let bad = || {
        anyhow::anyhow!(
            "bad --to-datetime '{s}': expected YYYY-MM-DDTHH:MM:SS[.sss] (UTC) or epoch milliseconds"
        )
    };
    let s = s.trim_end_matches('Z');
    let (date, time) = s.split_once('T').ok_or_else(bad)?;
    let d: Vec<i64> = date
        .split('-')
        .map(|x| x.parse().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let t: Vec<i64> = hms
        .split(':')
        .map(|x| x.parse().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    if d.len() != 3 || t.len() != 3 || !(1..=12).contains(&d[1]) || !(1..=31).contains(&d[2]) {
        return Err(bad());
    }
    let ms: i64 = format!("{:0<3}", &frac[..frac.len().min(3)])
        .parse()
        .map_err(|_| bad())?;
    // days from the civil date (Howard Hinnant's algorithm)
    let (y, m) = if d[1] <= 2 {
        (d[0] - 1, d[1] + 9)
    } else {
        (d[0], d[1] - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d[2] - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Ok(((days * 24 + t[0]) * 60 + t[1]) * 60_000 + t[2] * 1000 + ms)
}

async fn reset(a: ResetArgs) -> anyhow::Result<()> {
    let target_count = [a.to_earliest, a.to_latest].iter().filter(|x| **x).count()
        + [
            a.to_offset.is_some(),
            a.to_datetime.is_some(),
            a.shift_by.is_some(),
        ]
        .iter()
        .filter(|x| **x)
        .count();
    if target_count != 1 {
        bail!("give exactly one of --to-earliest, --to-latest, --to-offset, --to-datetime, --shift-by");
    }
    if a.topics.is_empty() && !a.all_topics {
        bail!("give --topic TOPIC[:PARTITIONS] or --all-topics");
    }
    // Kafka refuses to move the offsets of a group whose consumers are running.
    let found = groups(&a.connect, Some(a.group.clone())).await?;
    if let Some(g) = found.iter().find(|g| g.name == a.group) {
        if g.state != "Empty" && g.state != "Dead" {
            bail!(
                "Assignments can only be reset if the group '{}' is inactive, but the current state is {}.",
                a.group,
                g.state
            );
        }
    }
    let current = committed(&a.connect, &a.group, None).await?;
    // which partitions
    let mut wanted: BTreeSet<(String, i32)> = BTreeSet::new();
    if a.all_topics {
        wanted.extend(current.keys().cloned());
    } else {
        let cfg = a.connect.client_config()?;
        let timeout = a.connect.timeout();
        let md = blocking(&a.connect.bootstrap_server, move || {
            let c: BaseConsumer = cfg.create()?;
            c.fetch_metadata(None, timeout)
        })
        .await?;
        for spec in &a.topics {
            let (topic, parts) = match spec.split_once(':') {
                Some((t, ps)) => {
                    let ps: Vec<i32> = ps
                        .split(',')
                        .map(|p| {
                            p.trim()
                                .parse()
                                .with_context(|| format!("bad partition in '{spec}'"))
                        })
                        .collect::<Result<_, _>>()?;
                    (t, Some(ps))
                }
                None => (spec.as_str(), None),
            };
            let count = super::client::partition_count(&md, topic)? as i32;
            match parts {
                Some(ps) => {
                    for p in ps {
                        if !(0..count).contains(&p) {
                            bail!("topic '{topic}' has no partition {p} (it has {count})");
                        }
                        wanted.insert((topic.to_string(), p));
                    }
                }
                None => wanted.extend((0..count).map(|p| (topic.to_string(), p))),
            }
        }
    }
    if wanted.is_empty() {
        bail!("no partitions to reset: the group has no committed offsets");
    }
    let marks = watermarks(&a.connect, wanted.iter().cloned().collect()).await?;
    let by_time = match &a.to_datetime {
        Some(s) => {
            let ts = parse_datetime(s)?;
            let client = offsets_client(&a.connect, &a.group)?;
            let timeout = a.connect.timeout();
            let mut tpl = TopicPartitionList::new();
            for (t, p) in &wanted {
                tpl.add_partition_offset(t, *p, Offset::Offset(ts))?;
            }
            let found = blocking(&a.connect.bootstrap_server, move || {
                client.offsets_for_times(tpl, timeout)
            })
            .await?;
            found
                .elements()
                .iter()
                .map(|e| {
                    let o = match e.offset() {
                        Offset::Offset(o) => Some(o),
                        _ => None,
                    };
                    ((e.topic().to_string(), e.partition()), o)
                })
                .collect::<BTreeMap<_, _>>()
        }
        None => BTreeMap::new(),
    };
    let mut plan: Vec<((String, i32), i64)> = Vec::new();
    for tp in &wanted {
        let (low, high) = marks.get(tp).copied().unwrap_or((0, 0));
        let clamp = |o: i64| o.clamp(low, high);
        let new = if a.to_earliest {
            low
        } else if a.to_latest {
            high
        } else if let Some(o) = a.to_offset {
            clamp(o)
        } else if let Some(n) = a.shift_by {
            let Some(c) = current.get(tp) else {
                bail!(
                    "cannot shift the offset of {}:{} since the group has no committed offset there",
                    tp.0,
                    tp.1
                );
            };
            clamp(c.saturating_add(n))
        } else {
            by_time.get(tp).copied().flatten().unwrap_or(high)
        };
        plan.push((tp.clone(), new));
    }
    outln!(
        "{:<30} {:<30} {:>9} {:>12}",
        "GROUP",
        "TOPIC",
        "PARTITION",
        "NEW-OFFSET"
    );
    for ((t, p), o) in &plan {
        outln!("{:<30} {:<30} {:>9} {:>12}", a.group, t, p, o);
    }
    if !a.execute {
        outln!("(dry run: nothing changed; add --execute to commit these offsets)");
        return Ok(());
    }
    let client = offsets_client(&a.connect, &a.group)?;
    let mut tpl = TopicPartitionList::new();
    for ((t, p), o) in &plan {
        tpl.add_partition_offset(t, *p, Offset::Offset(*o))?;
    }
    let bootstrap = a.connect.bootstrap_server.clone();
    blocking(&bootstrap, move || client.commit(&tpl, CommitMode::Sync))
        .await
        .context("committing the new offsets (is a consumer of the group running?)")?;
    outln!("Committed {} offset(s).", plan.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_datetime;

    #[test]
    fn datetimes_parse_as_utc() {
        assert_eq!(parse_datetime("1970-01-01T00:00:00").unwrap(), 0);
        assert_eq!(
            parse_datetime("2024-02-29T12:34:56.789Z").unwrap(),
            1_709_210_096_789
        );
        assert_eq!(parse_datetime("1700000000000").unwrap(), 1_700_000_000_000);
        assert!(parse_datetime("2024-13-01T00:00:00").is_err());
        assert!(parse_datetime("yesterday").is_err());
    }
}
