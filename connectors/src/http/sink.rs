//! `HttpSinkConnector`: each task sends the values of the records it gets to `http.api.url`.
//!
//! ```text
//!  put(records) ─▶ batches of batch.max.size ─▶ body: value | [v1,v2] | prefix v1 SEP v2 suffix
//!     ─▶ HTTP request ─▶ 2xx: done
//!                      └▶ status in retry.on.status.codes, or no answer: wait (doubling from
//!                         retry.backoff.ms), again, up to max.retries
//!                      └▶ any other status, or retries used up: behavior.on.error
//!                         (fail: errant records → dead letter queue or task failure; log; ignore)
//! ```

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tributary_connect::config::{Config, ConfigError, ConfigExt};
use tributary_connect::connector::{
    ConfigKey, ConfigType, ConnectError, Importance, SinkConnector, SinkTask, SinkTaskContext,
};
use tributary_connect::converter::{Converter, JsonConverter};
use tributary_connect::data::Value;
use tributary_connect::record::ConnectRecord;

/// The settings.
pub(crate) const CONFIG: &[ConfigKey] = &[
    ConfigKey::required(
        "http.api.url",
        ConfigType::String,
        Importance::High,
        "The URL records are sent to",
    ),
    ConfigKey::optional(
        "request.method",
        ConfigType::String,
        "POST",
        Importance::High,
        "POST, PUT, PATCH or DELETE",
    ),
    ConfigKey::optional(
        "headers",
        ConfigType::String,
        "",
        Importance::Medium,
        "Request headers, NAME:VALUE separated by header.separator",
    ),
    ConfigKey::optional(
        "header.separator",
        ConfigType::String,
        "|",
        Importance::Low,
        "What separates the entries of headers",
    ),
    ConfigKey::optional(
        "request.body.format",
        ConfigType::String,
        "string",
        Importance::Medium,
        "string: each value's text; json: each value as JSON",
    ),
    ConfigKey::optional(
        "batch.max.size",
        ConfigType::Int,
        "1",
        Importance::Medium,
        "The most records in one request",
    ),
    ConfigKey::optional(
        "batch.json.as.array",
        ConfigType::Boolean,
        "false",
        Importance::Medium,
        "Send a batch as a JSON array",
    ),
    ConfigKey::optional(
        "batch.prefix",
        ConfigType::String,
        "",
        Importance::Low,
        "Text before a batch",
    ),
    ConfigKey::optional(
        "batch.suffix",
        ConfigType::String,
        "",
        Importance::Low,
        "Text after a batch",
    ),
    ConfigKey::optional(
        "batch.separator",
        ConfigType::String,
        ",",
        Importance::Low,
        "Text between the records of a batch",
    ),
    ConfigKey::optional(
        "max.retries",
        ConfigType::Int,
        "10",
        Importance::Medium,
        "How many times a failed request is tried again",
    ),
    ConfigKey::optional(
        "retry.backoff.ms",
        ConfigType::Int,
        "3000",
        Importance::Medium,
        "The first wait before trying again; it doubles each time",
    ),
    ConfigKey::optional(
        "retry.on.status.codes",
        ConfigType::String,
        "400-",
        Importance::Medium,
        "Statuses worth trying again: codes and ranges, e.g. 429,500-599 or 500-",
    ),
    ConfigKey::optional(
        "behavior.on.error",
        ConfigType::String,
        "fail",
        Importance::Medium,
        "fail, log or ignore a batch the endpoint refuses",
    ),
    ConfigKey::optional(
        "behavior.on.null.values",
        ConfigType::String,
        "ignore",
        Importance::Low,
        "ignore or fail on records without a value",
    ),
    ConfigKey::optional(
        "http.connect.timeout.ms",
        ConfigType::Int,
        "30000",
        Importance::Low,
        "How long to wait for a connection",
    ),
    ConfigKey::optional(
        "http.request.timeout.ms",
        ConfigType::Int,
        "30000",
        Importance::Low,
        "How long to wait for an answer",
    ),
];

/// Kafka's (Confluent's) HTTP sink connector.
#[derive(Default)]
pub struct HttpSinkConnector {
    config: Config,
}

impl SinkConnector for HttpSinkConnector {
    fn start(&mut self, config: &Config) -> Result<(), ConnectError> {
        Settings::from_config(config)?;
        self.config = config.clone();
        Ok(())
    }

    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Config>, ConnectError> {
        Ok(vec![self.config.clone(); max_tasks.max(1)])
    }

    fn create_task(&self) -> Box<dyn SinkTask> {
        Box::new(HttpSinkTask::default())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OnError {
    Fail,
    Log,
    Ignore,
}

/// The parsed settings.
#[derive(Clone, Debug)]
struct Settings {
    url: reqwest::Url,
    method: reqwest::Method,
    headers: Vec<(String, String)>,
    json: bool,
    batch_size: usize,
    as_array: bool,
    prefix: String,
    suffix: String,
    separator: String,
    max_retries: u32,
    backoff: Duration,
    retry_on: Vec<(u16, u16)>,
    on_error: OnError,
    fail_on_null: bool,
    connect_timeout: Duration,
    request_timeout: Duration,
}

fn invalid(name: &str, value: &str, why: &str) -> ConfigError {
    ConfigError::invalid(name, value, why)
}

/// `429,500-599,503-`: codes and ranges (an open end goes to 599).
fn parse_codes(text: &str) -> Result<Vec<(u16, u16)>, ConfigError> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = || {
            invalid(
                "retry.on.status.codes",
                text,
                "Expected status codes or ranges such as 429,500-599",
            )
        };
        let range = match part.split_once('-') {
            Some((a, "")) => (a.trim().parse().map_err(|_| bad())?, 599),
            Some((a, b)) => (
                a.trim().parse().map_err(|_| bad())?,
                b.trim().parse().map_err(|_| bad())?,
            ),
            None => {
                let c: u16 = part.parse().map_err(|_| bad())?;
                (c, c)
            }
        };
        out.push(range);
    }
    Ok(out)
}

impl Settings {
    fn from_config(c: &Config) -> Result<Settings, ConfigError> {
        let url_text = c.string("http.api.url")?;
        let url = reqwest::Url::parse(&url_text)
            .map_err(|e| invalid("http.api.url", &url_text, &e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid(
                "http.api.url",
                &url_text,
                "The URL must be http or https",
            ));
        }
        let method = c.choice_or(
            "request.method",
            "POST",
            &["POST", "PUT", "PATCH", "DELETE"],
        )?;
        let separator = c
            .get("header.separator")
            .cloned()
            .unwrap_or_else(|| "|".into());
        let mut headers = Vec::new();
        if let Some(text) = c.get("headers").filter(|h| !h.trim().is_empty()) {
            for h in text
                .split(separator.as_str())
                .filter(|h| !h.trim().is_empty())
            {
                let (k, v) = h.split_once(':').ok_or_else(|| {
                    invalid(
                        "headers",
                        text,
                        &format!("Expected NAME:VALUE, found '{h}'"),
                    )
                })?;
                let k = k.trim();
                reqwest::header::HeaderName::from_bytes(k.as_bytes()).map_err(|_| {
                    invalid("headers", text, &format!("'{k}' is not a header name"))
                })?;
                headers.push((k.to_string(), v.trim().to_string()));
            }
        }
        let batch_size = c.int_or("batch.max.size", 1)?;
        if batch_size < 1 {
            return Err(invalid(
                "batch.max.size",
                &batch_size.to_string(),
                "Value must be at least 1",
            ));
        }
        let ms = |name: &str, default: i32| -> Result<Duration, ConfigError> {
            let v = c.int_or(name, default)?;
            if v < 0 {
                return Err(invalid(name, &v.to_string(), "Value must be at least 0"));
            }
            Ok(Duration::from_millis(v as u64))
        };
        let on_error = match c
            .choice_or("behavior.on.error", "fail", &["fail", "log", "ignore"])?
            .as_str()
        {
            "log" => OnError::Log,
            "ignore" => OnError::Ignore,
            _ => OnError::Fail,
        };
        Ok(Settings {
            url,
            method: method
                .parse()
                .map_err(|_| invalid("request.method", &method, "not a method"))?,
            headers,
            json: c.choice_or("request.body.format", "string", &["string", "json"])? == "json",
            batch_size: batch_size as usize,
            as_array: c.bool_or("batch.json.as.array", false)?,
            prefix: c.get("batch.prefix").cloned().unwrap_or_default(),
            suffix: c.get("batch.suffix").cloned().unwrap_or_default(),
            separator: c
                .get("batch.separator")
                .cloned()
                .unwrap_or_else(|| ",".into()),
            max_retries: c.int_or("max.retries", 10)?.max(0) as u32,
            backoff: ms("retry.backoff.ms", 3000)?,
            retry_on: parse_codes(&c.string_or("retry.on.status.codes", "400-"))?,
            on_error,
            fail_on_null: c.choice_or("behavior.on.null.values", "ignore", &["ignore", "fail"])?
                == "fail",
            connect_timeout: ms("http.connect.timeout.ms", 30_000)?,
            request_timeout: ms("http.request.timeout.ms", 30_000)?,
        })
    }

    fn retriable(&self, status: u16) -> bool {
        self.retry_on
            .iter()
            .any(|(a, b)| (*a..=*b).contains(&status))
    }
}

/// The HTTP sink task.
#[derive(Default)]
pub struct HttpSinkTask {
    settings: Option<Settings>,
    client: Option<reqwest::Client>,
    context: Option<Arc<dyn SinkTaskContext>>,
}

/// Why a request did not succeed.
enum Refused {
    /// A status not worth retrying (or retries used up): the batch is refused for good.
    Permanent(String),
}

impl HttpSinkTask {
    /// One record's part of a body.
    fn encode(settings: &Settings, value: &Value) -> Result<String, ConnectError> {
        if settings.json {
            let converter = JsonConverter::default().with_schemas(false);
            let bytes = converter.to_bytes("", None, value)?.unwrap_or_default();
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        } else {
            Ok(value.to_string())
        }
    }

    fn body(settings: &Settings, parts: &[String]) -> String {
        if settings.as_array {
            format!("[{}]", parts.join(","))
        } else if parts.len() == 1 && settings.batch_size == 1 {
            parts[0].clone()
        } else {
            format!(
                "{}{}{}",
                settings.prefix,
                parts.join(&settings.separator),
                settings.suffix
            )
        }
    }

    /// Sends one body, retrying what is worth retrying.
    async fn send(&self, body: String) -> Result<(), Refused> {
        let (Some(s), Some(client)) = (&self.settings, &self.client) else {
            return Err(Refused::Permanent("the task is not started".into()));
        };
        let mut wait = s.backoff;
        let mut attempt = 0;
        loop {
            let mut req = client
                .request(s.method.clone(), s.url.clone())
                .body(body.clone());
            for (k, v) in &s.headers {
                req = req.header(k, v);
            }
            if !s
                .headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            {
                let ct = if s.json {
                    "application/json"
                } else {
                    "text/plain; charset=utf-8"
                };
                req = req.header(reqwest::header::CONTENT_TYPE, ct);
            }
            let (worth_retrying, why) = match req.send().await {
                Ok(resp) if resp.status().is_success() => return Ok(()),
                Ok(resp) => {
                    let code = resp.status().as_u16();
                    let text = resp.text().await.unwrap_or_default();
                    (
                        s.retriable(code),
                        format!("HTTP {code} from {}: {text}", s.url),
                    )
                }
                Err(e) => (true, format!("Request to {} failed: {e}", s.url)),
            };
            if !worth_retrying || attempt >= s.max_retries {
                return Err(Refused::Permanent(why));
            }
            attempt += 1;
            tracing::warn!(attempt, error = %why, "retrying the HTTP request in {wait:?}");
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(300));
        }
    }
}

impl SinkTask for HttpSinkTask {
    fn start<'a>(
        &'a mut self,
        config: &'a Config,
        context: Arc<dyn SinkTaskContext>,
    ) -> BoxFuture<'a, Result<(), ConnectError>> {
        Box::pin(async move {
            let settings = Settings::from_config(config)?;
            let client = reqwest::Client::builder()
                .connect_timeout(settings.connect_timeout)
                .timeout(settings.request_timeout)
                .build()
                .map_err(|e| {
                    ConnectError::Fatal(format!("Failed to create the HTTP client: {e}"))
                })?;
            self.settings = Some(settings);
            self.client = Some(client);
            self.context = Some(context);
            Ok(())
        })
    }

    fn put<'a>(
        &'a mut self,
        records: &'a [ConnectRecord],
    ) -> BoxFuture<'a, Result<(), ConnectError>> {
        Box::pin(async move {
            let settings = self
                .settings
                .clone()
                .ok_or_else(|| ConnectError::Fatal("the task is not started".into()))?;
            let mut kept = Vec::with_capacity(records.len());
            for r in records {
                if r.value.is_null() {
                    if settings.fail_on_null {
                        return Err(ConnectError::Fatal(format!(
                            "Record with a null value at {}-{} offset {:?}, and behavior.on.null.values=fail",
                            r.topic,
                            r.kafka_partition.unwrap_or(-1),
                            r.kafka_offset()
                        )));
                    }
                    continue;
                }
                kept.push(r);
            }
            for batch in kept.chunks(settings.batch_size) {
                let parts = batch
                    .iter()
                    .map(|r| Self::encode(&settings, &r.value))
                    .collect::<Result<Vec<_>, _>>()?;
                let body = Self::body(&settings, &parts);
                if let Err(Refused::Permanent(why)) = self.send(body).await {
                    match settings.on_error {
                        OnError::Ignore => {}
                        OnError::Log => {
                            tracing::error!(error = %why, records = batch.len(), "the HTTP endpoint refused a batch; it is skipped")
                        }
                        OnError::Fail => {
                            // the errant record reporter sends them to the dead letter queue,
                            // or fails the task when errors are not tolerated
                            let context = self
                                .context
                                .clone()
                                .ok_or_else(|| ConnectError::Fatal(why.clone()))?;
                            for r in batch {
                                context.report(r, &why).await?;
                            }
                        }
                    }
                }
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_code_ranges() {
        assert_eq!(
            parse_codes("429, 500-599,503-").unwrap(),
            vec![(429, 429), (500, 599), (503, 599)]
        );
        assert!(parse_codes("abc").is_err());
    }

    #[test]
    fn settings_are_checked() {
        let mut c = Config::new();
        assert!(Settings::from_config(&c).is_err());
        c.insert("http.api.url".into(), "ftp://x".into());
        assert!(Settings::from_config(&c).is_err());
        c.insert("http.api.url".into(), "http://127.0.0.1:1/x".into());
        c.insert(
            "headers".into(),
            "Content-Type:application/json|X-Id: 7".into(),
        );
        let s = Settings::from_config(&c).unwrap();
        assert_eq!(
            s.headers,
            vec![
                ("Content-Type".into(), "application/json".into()),
                ("X-Id".into(), "7".into())
            ]
        );
        c.insert("headers".into(), "nocolon".into());
        assert!(Settings::from_config(&c).is_err());
    }
}
