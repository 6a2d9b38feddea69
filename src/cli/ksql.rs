//! `tributary ksql [URL]`: the KSQL CLI, a client of a KSQL server (`tributary ksql-server`);
//! `tributary ksql qtt` runs ksqlDB's query-validation tests, each variant against an
//! embedded single-node broker of its own.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Subcommand};
use tributary_broker::BrokerConfig;
use tributary_ksql::qtt::{self, Report};

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct KsqlArgs {
    #[command(subcommand)]
    pub command: Option<KsqlCommand>,
    /// The KSQL server's URL
    #[arg(default_value = "http://localhost:8088")]
    pub url: String,
    /// Run these statements and exit
    #[arg(long, short = 'e', value_name = "STATEMENTS")]
    pub execute: Option<String>,
    /// Run the statements of this file and exit
    #[arg(long, short = 'f', value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// How answers are printed: TABULAR or JSON
    #[arg(long, default_value = "TABULAR", value_parser = ["TABULAR", "JSON", "tabular", "json"])]
    pub output: String,
}

#[derive(Subcommand)]
pub enum KsqlCommand {
    /// Run ksqlDB query-validation test files (or folders of them) against embedded brokers
    Qtt(QttArgs),
}

#[derive(Args)]
pub struct QttArgs {
    /// Test files, or folders of them
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Only variants whose full name contains this text
    #[arg(long)]
    pub filter: Option<String>,
    /// Where to write the machine-readable report (JSON)
    #[arg(long, default_value = "qtt-report.json")]
    pub report: PathBuf,
    /// Print every variant's verdict, not only failures
    #[arg(long)]
    pub verbose: bool,
    /// How many variants run at once (each with its own embedded broker)
    #[arg(long, short = 'j', default_value_t = 4)]
    pub jobs: usize,
    /// Files (names without `.json`) every runnable variant of which must pass: the run
    /// fails when one of them does not, or when such a file was not run at all
    #[arg(long, value_delimiter = ',')]
    pub must_pass: Vec<String>,
}

/// `tributary ksql-server`.
#[derive(Args)]
pub struct ServerArgs {
    /// ksqlDB-style properties file (ksql-server.properties)
    #[arg(long, short = 'c')]
    pub config: Option<PathBuf>,
    /// Set a property, KEY=VALUE; repeatable; wins over the file
    #[arg(long = "override", short = 'o', value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Shortcut for --override bootstrap.servers=HOST:PORT
    #[arg(long, value_name = "HOST:PORT")]
    pub bootstrap_server: Option<String>,
    /// Shortcut for --override listeners=URL
    #[arg(long, value_name = "URL")]
    pub listeners: Option<String>,
    /// Headless mode: run this file's statements and take none over REST (shortcut for
    /// --override ksql.queries.file=FILE)
    #[arg(long, value_name = "FILE")]
    pub queries_file: Option<PathBuf>,
}

/// Runs a KSQL server until Ctrl-C.
pub async fn server(args: ServerArgs) -> anyhow::Result<()> {
    let mut props = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read config file {}", path.display()))?;
            tributary_broker::config::parse_properties(&text)
                .with_context(|| format!("in config file {}", path.display()))?
        }
        None => Default::default(),
    };
    for o in &args.overrides {
        let (k, v) = o
            .split_once('=')
            .with_context(|| format!("bad --override '{o}': expected KEY=VALUE"))?;
        props.insert(k.trim().to_string(), v.trim().to_string());
    }
    if let Some(b) = &args.bootstrap_server {
        props.insert("bootstrap.servers".into(), b.clone());
    }
    if let Some(l) = &args.listeners {
        props.insert("listeners".into(), l.clone());
    }
    if let Some(f) = &args.queries_file {
        props.insert("ksql.queries.file".into(), f.display().to_string());
    }
    let config = tributary_ksql::server::ServerConfig::from_properties(props)
        .map_err(anyhow::Error::msg)
        .context("invalid configuration")?;
    let server = tributary_ksql::server::KsqlServer::start(config).await?;
    println!("KSQL server listening on http://{}", server.addr());
    // (Ctrl-C or SIGTERM stop the queries cleanly)
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    server.stop().await;
    Ok(())
}

pub async fn run(args: KsqlArgs) -> anyhow::Result<()> {
    if let Some(KsqlCommand::Qtt(a)) = args.command {
        return qtt_run(a).await;
    }
    let output = if args.output.eq_ignore_ascii_case("json") {
        tributary_ksql::cli::OutputFormat::Json
    } else {
        tributary_ksql::cli::OutputFormat::Tabular
    };
    let mut cli = tributary_ksql::cli::Cli::new(&args.url, output);
    let script = match (&args.execute, &args.file) {
        (Some(e), _) => Some(e.clone()),
        (None, Some(f)) => Some(
            std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?,
        ),
        (None, None) => None,
    };
    match script {
        Some(text) => {
            if !cli.run_text(&text).await? {
                anyhow::bail!("a statement failed");
            }
        }
        None => {
            if !cli.interactive().await? {
                anyhow::bail!("a statement failed");
            }
        }
    }
    Ok(())
}

fn files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("cannot read {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect();
            entries.sort();
            out.extend(entries);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// A broker of its own for one variant, in a temporary directory.
async fn embedded_broker() -> anyhow::Result<(tributary_broker::BrokerHandle, tempfile::TempDir)> {
    let dir = tempfile::Builder::new()
        .prefix("tributary-qtt-")
        .tempdir()?;
    let props = [
        ("listeners", "PLAINTEXT://127.0.0.1:0".to_string()),
        ("log.dirs", dir.path().display().to_string()),
        ("group.initial.rebalance.delay.ms", "0".to_string()),
        ("auto.create.topics.enable", "false".to_string()),
        ("offsets.topic.num.partitions", "1".to_string()),
        ("transaction.state.log.num.partitions", "1".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let config = BrokerConfig::from_props(props).map_err(|e| anyhow::anyhow!("{e}"))?;
    let handle = tributary_broker::start(config)
        .await
        .map_err(|e| anyhow::anyhow!("cannot start an embedded broker: {e}"))?;
    Ok((handle, dir))
}

async fn run_one(v: qtt::Variant) -> anyhow::Result<qtt::CaseResult> {
    if v.needs_registry() {
        return Ok(qtt::skipped(&v));
    }
    let (broker, _dir) = embedded_broker().await?;
    let bootstrap = broker.local_addr().to_string();
    let verdict = qtt::run_variant(&v, &bootstrap).await;
    broker.shutdown().await;
    Ok(qtt::result(&v, verdict))
}

async fn qtt_run(args: QttArgs) -> anyhow::Result<()> {
    use futures::StreamExt;
    let mut report = Report::default();
    let started = Instant::now();
    let mut variants = Vec::new();
    for file in files(&args.paths)? {
        match qtt::load(&file) {
            Ok(v) => variants.extend(v),
            Err(e) => eprintln!("cannot load {}: {e}", file.display()),
        }
    }
    if let Some(f) = &args.filter {
        variants.retain(|v| v.name.contains(f.as_str()));
    }
    // (each variant on a task of its own: the runner blocks its thread on client calls)
    let mut results = futures::stream::iter(variants)
        .map(|v| tokio::spawn(run_one(v)))
        .buffered(args.jobs.max(1));
    while let Some(r) = results.next().await {
        let r = r.map_err(|e| anyhow::anyhow!("a test variant panicked: {e}"))??;
        match &r.reason {
            Some(reason) if r.verdict == "fail" => {
                println!("FAIL {}\n     {}", r.name, reason.replace('\n', "\n     "))
            }
            _ if args.verbose && r.verdict == "pass" => println!("PASS {}", r.name),
            _ => {}
        }
        report.add(r);
    }
    println!();
    println!(
        "{:<40} {:>7} {:>5} {:>8}",
        "file", "passed", "run", "skipped"
    );
    for (file, t) in &report.files {
        println!("{file:<40} {:>7} {:>5} {:>8}", t.passed, t.run, t.skipped);
    }
    println!();
    for (format, t) in &report.formats {
        println!(
            "format {format:<10} {:>5} of {:>5} passed ({:.1} %)",
            t.passed,
            t.run,
            t.percent()
        );
    }
    let t = &report.in_scope;
    println!(
        "only JSON/DELIMITED/KAFKA/NONE: {} of {} variants passed ({:.1} %)",
        t.passed,
        t.run,
        t.percent()
    );
    if report.rest.run > 0 {
        let t = &report.rest;
        println!(
            "REST suite (JSON/DELIMITED/KAFKA/NONE): {} of {} cases passed ({:.1} %)",
            t.passed,
            t.run,
            t.percent()
        );
    }
    println!(
        "overall: {} of {} variants passed ({:.1} %), {} skipped (schema registry formats), in {:.0} s",
        report.total.passed,
        report.total.run,
        report.total.percent(),
        report.total.skipped,
        started.elapsed().as_secs_f64()
    );
    write_report(&args.report, &report)?;
    check_must_pass(&args.must_pass, &report)
}

/// Fails when a file that must pass completely has a failing variant or did not run.
fn check_must_pass(files: &[String], report: &Report) -> anyhow::Result<()> {
    let mut missing = Vec::new();
    for file in files {
        match report.files.get(file) {
            Some(t) if t.passed == t.run => {}
            Some(t) => missing.push(format!("{file} ({} of {} passed)", t.passed, t.run)),
            None => missing.push(format!("{file} (not run)")),
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        for case in &report.cases {
            if case.verdict == "fail" && files.contains(&case.file) {
                let reason = case.reason.as_deref().unwrap_or_default();
                eprintln!(
                    "FAIL {}\n     {}",
                    case.name,
                    reason.replace('\n', "\n     ")
                );
            }
        }
        anyhow::bail!(
            "files that must pass completely did not: {}",
            missing.join(", ")
        )
    }
}

fn write_report(path: &Path, report: &Report) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(report)?;
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}
