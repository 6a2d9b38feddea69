//! The KSQL CLI (`tributary ksql [URL]`): a client of a KSQL server's REST API, as ksqlDB's
//! CLI is. Statements end with `;` and may span lines; `SELECT ... EMIT CHANGES` streams its
//! rows until its `LIMIT` or Ctrl-C; `SET`/`UNSET` change the properties sent with every
//! statement; `RUN SCRIPT 'file'` runs a file's statements; `EXIT` (or Ctrl-D) leaves.

pub mod render;
pub(crate) mod split;

use std::collections::BTreeMap;
use std::future::Future;
use std::io::IsTerminal;
use std::pin::Pin;

use serde_json::{json, Value};

/// How answers are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// Tables, as ksqlDB's CLI prints them.
    Tabular,
    /// The server's JSON, one entity or row per line.
    Json,
}

/// Why the CLI stopped.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The server could not be reached, or answered nonsense.
    #[error("{0}")]
    Server(String),
    /// A file or the terminal failed.
    #[error("{0}")]
    Io(String),
}

/// Whether to go on after a statement.
#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Exit,
}

/// A CLI session with a server.
pub struct Cli {
    http: reqwest::Client,
    url: String,
    output: OutputFormat,
    /// Properties set with `SET`, sent with every statement.
    properties: BTreeMap<String, String>,
    /// The terminal's width, for push query rows.
    width: usize,
}

impl Cli {
    /// A session with the server at `url` (`http://localhost:8088`).
    pub fn new(url: &str, output: OutputFormat) -> Cli {
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(120);
        Cli {
            http: reqwest::Client::new(),
            url: url.trim_end_matches('/').to_string(),
            output,
            properties: BTreeMap::new(),
            width,
        }
    }

    /// Runs every statement of `text` (the last one may lack its `;`). Statement errors are
    /// printed and the run stops at the first one (as ksqlDB's CLI does for scripts); the
    /// result says whether all succeeded.
    pub async fn run_text(&mut self, text: &str) -> Result<bool, CliError> {
        Ok(self.script(text).await.is_ok())
    }

    /// Runs the statements of a script in order, up to the first that fails.
    async fn script(&mut self, text: &str) -> Result<Flow, StatementFailed> {
        let (mut statements, rest) = split::statements(text);
        if !rest.trim().is_empty() {
            statements.push(rest.trim().to_string());
        }
        for s in statements {
            if self.statement(&s).await? == Flow::Exit {
                return Ok(Flow::Exit);
            }
        }
        Ok(Flow::Continue)
    }

    /// The interactive session: `ksql> ` prompts with line editing and history, until `EXIT`
    /// or Ctrl-D. Without a terminal, standard input is run as a script (the result says
    /// whether all of it succeeded).
    pub async fn interactive(&mut self) -> Result<bool, CliError> {
        if !std::io::stdin().is_terminal() {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .map_err(|e| CliError::Io(e.to_string()))?;
            return self.run_text(&text).await;
        }
        self.banner().await;
        let mut editor =
            rustyline::DefaultEditor::new().map_err(|e| CliError::Io(e.to_string()))?;
        let history = std::env::var("HOME")
            .ok()
            .map(|h| std::path::Path::new(&h).join(".ksql-history"));
        if let Some(h) = &history {
            let _ = editor.load_history(h);
        }
        let mut buffer = String::new();
        loop {
            let prompt = if buffer.trim().is_empty() {
                "ksql> "
            } else {
                "> "
            };
            let line = tokio::task::block_in_place(|| editor.readline(prompt));
            match line {
                Ok(line) => {
                    buffer.push_str(&line);
                    buffer.push('\n');
                    let (done, rest) = split::statements(&buffer);
                    let bare = rest.trim().trim_end_matches(';').to_uppercase();
                    if done.is_empty() && (bare == "EXIT" || bare == "QUIT") {
                        break;
                    }
                    if !done.is_empty() {
                        let _ = editor.add_history_entry(buffer.trim());
                    }
                    buffer = rest;
                    let mut exit = false;
                    for s in done {
                        if let Ok(Flow::Exit) = self.statement(&s).await {
                            exit = true;
                            break;
                        }
                    }
                    if exit {
                        break;
                    }
                }
                Err(rustyline::error::ReadlineError::Interrupted) => buffer.clear(),
                Err(rustyline::error::ReadlineError::Eof) => break,
                Err(e) => return Err(CliError::Io(e.to_string())),
            }
        }
        if let Some(h) = &history {
            let _ = editor.save_history(h);
        }
        Ok(true)
    }

    async fn banner(&self) {
        match self.get("/info").await {
            Ok(info) => println!(
                "Tributary KSQL CLI, server v{} at {} (service id {})\nStatements end with ';'. EXIT or Ctrl-D leaves, Ctrl-C stops a push query.\n",
                render::cell(&info["KsqlServerInfo"]["version"]),
                self.url,
                render::cell(&info["KsqlServerInfo"]["ksqlServiceId"]),
            ),
            Err(e) => eprintln!("WARNING: the KSQL server at {} does not answer: {e}\n", self.url),
        }
    }

    async fn get(&self, path: &str) -> Result<Value, String> {
        let r = self
            .http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        r.json().await.map_err(|e| e.to_string())
    }

    /// Runs one statement (without its `;`), printing its answer or its error.
    fn statement<'a>(
        &'a mut self,
        s: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Flow, StatementFailed>> + 'a>> {
        Box::pin(async move {
            let words = split::leading_words(s, 2);
            let first = words.first().map_or("", String::as_str);
            let result = match (first, words.get(1).map(String::as_str)) {
                ("EXIT" | "QUIT", _) => return Ok(Flow::Exit),
                ("SET", _) => self.set(s),
                ("UNSET", _) => self.unset(s),
                ("RUN", Some("SCRIPT")) => {
                    return self.run_script(s).await;
                }
                ("SELECT", _) => self.push_query(s).await,
                ("PRINT", _) => self.print(s).await,
                _ => self.ksql(s).await,
            };
            match result {
                Ok(()) => Ok(Flow::Continue),
                Err(message) => {
                    eprintln!("{message}");
                    Err(StatementFailed)
                }
            }
        })
    }

    fn set(&mut self, s: &str) -> Result<(), String> {
        let quoted = quoted_strings(s);
        let [name, value] = quoted.as_slice() else {
            return Err("SET takes a property and a value: SET 'name'='value';".into());
        };
        self.properties.insert(name.clone(), value.clone());
        println!("Successfully changed local property '{name}' to '{value}'. Use the UNSET command to revert your change.");
        Ok(())
    }

    fn unset(&mut self, s: &str) -> Result<(), String> {
        let quoted = quoted_strings(s);
        let [name] = quoted.as_slice() else {
            return Err("UNSET takes a property: UNSET 'name';".into());
        };
        match self.properties.remove(name) {
            Some(old) => {
                println!("Successfully unset local property '{name}' (value was '{old}').")
            }
            None => println!("Property '{name}' was not set."),
        }
        Ok(())
    }

    async fn run_script(&mut self, s: &str) -> Result<Flow, StatementFailed> {
        let quoted = quoted_strings(s);
        let Some(path) = quoted.first() else {
            eprintln!("RUN SCRIPT takes a file: RUN SCRIPT '/path/to/file.sql';");
            return Err(StatementFailed);
        };
        match std::fs::read_to_string(path) {
            Ok(text) => self.script(&text).await,
            Err(e) => {
                eprintln!("cannot read {path}: {e}");
                Err(StatementFailed)
            }
        }
    }

    /// A statement through `/ksql`.
    async fn ksql(&mut self, s: &str) -> Result<(), String> {
        let body = json!({"ksql": format!("{s};"), "streamsProperties": self.properties});
        let r = self
            .http
            .post(format!("{}/ksql", self.url))
            .header("Accept", "application/vnd.ksql.v1+json")
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("cannot reach the KSQL server at {}: {e}", self.url))?;
        let ok = r.status().is_success();
        let answer: Value = r
            .json()
            .await
            .map_err(|e| format!("the server's answer is not JSON: {e}"))?;
        if !ok {
            return Err(render::cell(&answer["message"]));
        }
        for e in answer.as_array().cloned().unwrap_or_default() {
            match self.output {
                OutputFormat::Tabular => print!("{}", render::entity(&e)),
                OutputFormat::Json => println!("{e}"),
            }
        }
        Ok(())
    }

    /// POSTs `body` to the streaming endpoint `path`: its response, or the server's message.
    async fn stream(&self, path: &str, body: &Value) -> Result<reqwest::Response, String> {
        let r = self
            .http
            .post(format!("{}/{path}", self.url))
            .json(body)
            .send()
            .await
            .map_err(|e| format!("cannot reach the KSQL server at {}: {e}", self.url))?;
        if !r.status().is_success() {
            let answer: Value = r.json().await.unwrap_or(Value::Null);
            return Err(render::cell(&answer["message"]));
        }
        Ok(r)
    }

    /// `PRINT` through `/query`: the topic's records as lines, until its `LIMIT` or Ctrl-C
    /// (which closes the connection, and so the reader on the server).
    async fn print(&mut self, s: &str) -> Result<(), String> {
        let body = json!({"ksql": format!("{s};"), "streamsProperties": self.properties});
        let mut r = self.stream("query", &body).await?;
        let mut buffered = Vec::new();
        loop {
            let chunk = tokio::select! {
                c = r.chunk() => c.map_err(|e| e.to_string())?,
                _ = tokio::signal::ctrl_c() => break,
            };
            let Some(chunk) = chunk else { break };
            buffered.extend_from_slice(&chunk);
            while let Some(i) = buffered.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buffered.drain(..=i).collect();
                let line = String::from_utf8_lossy(&line);
                // (empty lines only keep the connection checked)
                if !line.trim().is_empty() {
                    print!("{line}");
                }
            }
        }
        println!("Topic printing ceased");
        Ok(())
    }

    /// A push query through `/query-stream`: rows as they come, until the stream ends or
    /// Ctrl-C (which closes the query on the server).
    async fn push_query(&mut self, s: &str) -> Result<(), String> {
        let body = json!({"sql": format!("{s};"), "properties": self.properties});
        let mut r = self.stream("query-stream", &body).await?;
        let mut buffered = String::new();
        let mut query_id = None;
        let mut width = 0;
        let mut border = String::new();
        let interrupted = loop {
            let chunk = tokio::select! {
                c = r.chunk() => c.map_err(|e| e.to_string())?,
                _ = tokio::signal::ctrl_c() => break true,
            };
            let Some(chunk) = chunk else { break false };
            buffered.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(i) = buffered.find('\n') {
                let line: String = buffered.drain(..=i).collect();
                let v: Value = serde_json::from_str(line.trim())
                    .map_err(|e| format!("the server's answer is not JSON: {e}"))?;
                if query_id.is_none() {
                    query_id = Some(v["queryId"].clone());
                    let names: Vec<String> = v["columnNames"]
                        .as_array()
                        .map(|a| a.iter().map(render::cell).collect())
                        .unwrap_or_default();
                    width = render::column_width(names.len(), self.width);
                    match self.output {
                        OutputFormat::Tabular => {
                            let (b, header) = render::query_header(&names, width);
                            border = b;
                            println!("{header}");
                        }
                        OutputFormat::Json => println!("{v}"),
                    }
                    continue;
                }
                match self.output {
                    OutputFormat::Tabular => {
                        let cells: Vec<String> = v
                            .as_array()
                            .map(|a| a.iter().map(render::cell).collect())
                            .unwrap_or_default();
                        println!("{}", render::query_row(&cells, width));
                    }
                    OutputFormat::Json => println!("{v}"),
                }
            }
        };
        if interrupted {
            if let Some(id) = query_id {
                let _ = self
                    .http
                    .post(format!("{}/close-query", self.url))
                    .json(&json!({"queryId": id}))
                    .send()
                    .await;
            }
        }
        if self.output == OutputFormat::Tabular && !border.is_empty() {
            println!("{border}");
        }
        println!("Query terminated");
        Ok(())
    }
}

/// A statement failed (its message is printed).
#[derive(Debug)]
struct StatementFailed;

/// The single-quoted strings of a statement, in order (`''` is a quote).
fn quoted_strings(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' {
            continue;
        }
        let mut v = String::new();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    v.push('\'');
                } else {
                    break;
                }
            } else {
                v.push(c);
            }
        }
        out.push(v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_reads_quoted_name_and_value() {
        assert_eq!(
            quoted_strings("SET 'auto.offset.reset' = 'earliest'"),
            vec!["auto.offset.reset".to_string(), "earliest".to_string()]
        );
        assert_eq!(
            quoted_strings("RUN SCRIPT 'it''s.sql'"),
            vec!["it's.sql".to_string()]
        );
    }
}
