//! Log levels changed at run time, as Kafka Connect's `/admin/loggers` changes them (KIP-495,
//! KIP-976): a level set on a namespace applies to it and to every logger whose name starts
//! with it; `root` is the default level and takes every logger along. Logger names are `tracing` targets (`tributary_connect::worker::sink`);
//! the levels are Log4j's names (`OFF`, `FATAL`, `ERROR`, `WARN`, `INFO`, `DEBUG`, `TRACE`,
//! `ALL`). The process installs a [`LogFilter`] that turns the levels into its log filter.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// Applies filter directives (`tracing_subscriber`'s `EnvFilter` syntax) to the process's logs.
pub trait LogFilter: Send + Sync {
    /// Replaces the filter.
    fn apply(&self, directives: &str) -> Result<(), String>;
}

/// A logger's level and when the API last changed it (epoch ms).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggerLevel {
    /// `INFO`, `DEBUG`, ...
    pub level: String,
    /// When it was set through the API (`None`: as configured at start).
    pub last_modified: Option<i64>,
}

/// Why a level cannot be set.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum LevelError {
    /// No `level` in the request.
    #[error("Desired 'level' parameter was not specified in request.")]
    Missing,
    /// Not a Log4j level.
    #[error("invalid log level '{0}'.")]
    Invalid(String),
    /// A name the filter syntax cannot hold.
    #[error("invalid logger name '{0}'.")]
    BadName(String),
}

/// The `tracing` level of a Log4j level name (any case).
fn tracing_level(level: &str) -> Option<&'static str> {
    Some(match level.to_ascii_uppercase().as_str() {
        "OFF" => "off",
        "FATAL" | "ERROR" => "error",
        "WARN" => "warn",
        "INFO" => "info",
        "DEBUG" => "debug",
        "TRACE" | "ALL" => "trace",
        _ => return None,
    })
}

/// The Log4j name of a `tracing` level directive.
fn log4j_level(level: &str) -> &'static str {
    match level.to_ascii_lowercase().as_str() {
        "off" => "OFF",
        "error" => "ERROR",
        "warn" => "WARN",
        "debug" => "DEBUG",
        "trace" => "TRACE",
        _ => "INFO",
    }
}

#[derive(Debug)]
struct State {
    /// The filter the process started with, without its default level.
    base: Vec<String>,
    root: LoggerLevel,
    loggers: BTreeMap<String, LoggerLevel>,
}

/// The process's loggers.
pub struct Loggers {
    state: Mutex<State>,
    filter: OnceLock<Arc<dyn LogFilter>>,
}

impl Default for Loggers {
    fn default() -> Loggers {
        Loggers::new("info")
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Loggers {
    /// Loggers whose start filter is `directives` (`info,openraft=off`): its bare level is the
    /// root's, each `target=level` a logger's.
    pub fn new(directives: &str) -> Loggers {
        let mut root = "info".to_string();
        let mut base = Vec::new();
        let mut loggers = BTreeMap::new();
        for d in directives
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
        {
            match d.split_once('=') {
                None if tracing_level(d).is_some() => root = d.to_string(),
                Some((target, level)) if !target.contains(['[', '{']) => {
                    loggers.insert(
                        target.to_string(),
                        LoggerLevel {
                            level: log4j_level(level).to_string(),
                            last_modified: None,
                        },
                    );
                    base.push(d.to_string());
                }
                _ => base.push(d.to_string()),
            }
        }
        Loggers {
            state: Mutex::new(State {
                base,
                root: LoggerLevel {
                    level: log4j_level(&root).to_string(),
                    last_modified: None,
                },
                loggers,
            }),
            filter: OnceLock::new(),
        }
    }

    /// Makes level changes reach the process's log filter.
    pub fn install(&self, filter: Arc<dyn LogFilter>) {
        let _ = self.filter.set(filter);
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        }
    }

    /// Every logger with a level of its own, and `root`, by name.
    pub fn all(&self) -> BTreeMap<String, LoggerLevel> {
        let s = self.state();
        let mut out = s.loggers.clone();
        out.insert("root".to_string(), s.root.clone());
        out
    }

    /// A logger's level (`None`: it has no level of its own).
    pub fn get(&self, name: &str) -> Option<LoggerLevel> {
        let s = self.state();
        if name == "root" {
            return Some(s.root.clone());
        }
        s.loggers.get(name).cloned()
    }

    /// Whether a level can be set on a namespace.
    pub fn check(namespace: &str, level: &str) -> Result<(), LevelError> {
        tracing_level(level).ok_or_else(|| LevelError::Invalid(level.into()))?;
        if namespace.is_empty()
            || !namespace
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | ':' | '.' | '-'))
        {
            return Err(LevelError::BadName(namespace.into()));
        }
        Ok(())
    }

    /// Sets the level of `namespace` and every logger under it; returns the loggers whose level
    /// changed, by name.
    pub fn set(&self, namespace: &str, level: &str) -> Result<Vec<String>, LevelError> {
        Loggers::check(namespace, level)?;
        let level = level.to_ascii_uppercase();
        let now = now_ms();
        let mut changed = Vec::new();
        let directives = {
            let mut s = self.state();
            // as Log4j's names in Kafka Connect: a plain prefix (`...Worker` takes
            // `...WorkerSinkTask` along), and `root` takes every logger
            let root = namespace == "root";
            let names: Vec<String> = s
                .loggers
                .keys()
                .filter(|n| root || n.starts_with(namespace))
                .cloned()
                .chain((!root).then(|| namespace.to_string()))
                .collect();
            if root && s.root.level != level {
                s.root = LoggerLevel {
                    level: level.clone(),
                    last_modified: Some(now),
                };
                changed.push("root".to_string());
            }
            for name in names {
                let entry = s.loggers.entry(name.clone()).or_insert(LoggerLevel {
                    level: String::new(),
                    last_modified: None,
                });
                if entry.level != level {
                    entry.level = level.clone();
                    entry.last_modified = Some(now);
                    if !changed.contains(&name) {
                        changed.push(name);
                    }
                }
            }
            changed.sort();
            directives_of(&s)
        };
        if let Some(f) = self.filter.get() {
            if let Err(e) = f.apply(&directives) {
                tracing::warn!(error = %e, "cannot change the log filter");
            }
        }
        Ok(changed)
    }
}

/// The filter directives of the current levels.
fn directives_of(s: &State) -> String {
    let mut out = vec![tracing_level(&s.root.level).unwrap_or("info").to_string()];
    let own: Vec<&String> = s.loggers.keys().collect();
    for d in &s.base {
        // a logger set through the API replaces its start directive
        if !d
            .split_once('=')
            .is_some_and(|(t, _)| own.iter().any(|o| *o == t))
        {
            out.push(d.clone());
        }
    }
    for (name, l) in &s.loggers {
        out.push(format!(
            "{}={}",
            name.replace('.', "::"),
            tracing_level(&l.level).unwrap_or("info")
        ));
    }
    out.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Recorder(Mutex<Vec<String>>);

    impl LogFilter for Recorder {
        fn apply(&self, directives: &str) -> Result<(), String> {
            self.0
                .lock()
                .map_err(|e| e.to_string())?
                .push(directives.into());
            Ok(())
        }
    }

    #[test]
    fn levels_apply_to_a_namespace_and_reach_the_filter() {
        let l = Loggers::new("info,openraft=off,rdkafka=warn");
        let rec = Arc::new(Recorder(Mutex::new(Vec::new())));
        l.install(rec.clone());
        assert_eq!(l.get("root").map(|r| r.level), Some("INFO".into()));
        assert_eq!(l.get("openraft").map(|r| r.level), Some("OFF".into()));
        assert_eq!(l.get("tributary_connect"), None);
        assert_eq!(
            l.set("tributary_connect::worker::sink", "debug"),
            Ok(vec!["tributary_connect::worker::sink".into()])
        );
        assert_eq!(
            l.set("tributary_connect::worker::sink", "DEBUG"),
            Ok(vec![])
        );
        // a namespace takes its loggers with it
        assert_eq!(
            l.set("tributary_connect", "WARN"),
            Ok(vec![
                "tributary_connect".into(),
                "tributary_connect::worker::sink".into()
            ])
        );
        let sink = l.get("tributary_connect::worker::sink").unwrap();
        assert_eq!(sink.level, "WARN");
        assert!(sink.last_modified.is_some());
        // `root` takes every logger along
        assert_eq!(
            l.set("root", "error"),
            Ok(vec![
                "openraft".into(),
                "rdkafka".into(),
                "root".into(),
                "tributary_connect".into(),
                "tributary_connect::worker::sink".into()
            ])
        );
        let last = rec.0.lock().unwrap().last().cloned().unwrap();
        assert_eq!(
            last,
            "error,openraft=error,rdkafka=error,tributary_connect=error,tributary_connect::worker::sink=error"
        );
        assert_eq!(
            l.all().keys().cloned().collect::<Vec<_>>(),
            [
                "openraft",
                "rdkafka",
                "root",
                "tributary_connect",
                "tributary_connect::worker::sink"
            ]
        );
    }

    #[test]
    fn bad_levels_and_names_are_refused() {
        let l = Loggers::default();
        assert_eq!(l.set("x", "LOUD"), Err(LevelError::Invalid("LOUD".into())));
        assert_eq!(l.set("x=y", "INFO"), Err(LevelError::BadName("x=y".into())));
        assert_eq!(
            LevelError::Invalid("LOUD".into()).to_string(),
            "invalid log level 'LOUD'."
        );
    }
}
