//! Headless mode: with `ksql.queries.file` set, a server runs the statements of that file when
//! it starts (as ksqlDB's standalone executor does) and takes no statements over REST. Every
//! server given the same file and `ksql.service.id` runs the same queries under the same
//! application ids, so their consumer groups split the work. No command topic is used.

use std::collections::BTreeMap;

use crate::cli::split::statements;
use crate::engine::{Engine, KsqlError};
use crate::parser::ast::Statement;
use crate::parser::{self, Parsed};

/// ksqlDB's message for a statement a queries file cannot hold.
const SUPPORTED: &str = "Unsupported statement. Only the following statements are supporting in standalone mode:\nCREATE STREAM AS SELECT\nCREATE STREAM\nCREATE TABLE\nCREATE TABLE AS SELECT\nINSERT INTO\nREGISTER TYPE\nSET\nUNSET";

/// The message `/ksql` and the query endpoints answer in headless mode.
pub(super) const REFUSED: &str =
    "The server is running in headless mode (ksql.queries.file): it takes no statements or queries over REST.";

/// Runs the statements of the queries file at `path`. Every statement is parsed and checked
/// first, so a file with a bad statement starts nothing.
pub(super) async fn run_file(engine: &mut Engine, path: &str) -> Result<(), KsqlError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        KsqlError::Statement(format!(
            "Could not read the query file: {path}. Details: {e}"
        ))
    })?;
    let statements = check(&text, engine)?;
    let mut session = BTreeMap::new();
    // (the queries start once every statement ran)
    engine.defer_starts(true);
    for p in &statements {
        match &p.statement {
            Statement::SetProperty { name, value } => {
                session.insert(name.clone(), value.clone());
            }
            Statement::UnsetProperty(name) => {
                session.remove(name);
            }
            _ => {
                if let Err(e) = engine.execute(p, &session).await {
                    engine.defer_starts(false);
                    return Err(KsqlError::Statement(format!("{e}\nStatement: {};", p.text)));
                }
            }
        }
    }
    engine.defer_starts(false);
    if let Some((id, why)) = engine.start_deferred().into_iter().next() {
        return Err(KsqlError::Statement(format!(
            "the query {id} cannot start: {why}"
        )));
    }
    tracing::info!(path, statements = statements.len(), "queries file run");
    Ok(())
}

/// The file's statements, each parsed with the types the ones before it register; refused
/// when one is not of the kinds a queries file holds, or none starts a persistent query.
fn check(text: &str, engine: &Engine) -> Result<Vec<Parsed>, KsqlError> {
    let (mut texts, rest) = statements(text);
    if !rest.trim().is_empty() {
        texts.push(rest);
    }
    let mut types = engine.catalog().types.clone();
    let mut out = Vec::new();
    let mut queries = false;
    for t in texts {
        let p = parser::parse_one(&t, &types)?;
        match &p.statement {
            Statement::CreateType { name, ty, .. } => {
                types.entry(name.clone()).or_insert(ty.clone());
            }
            Statement::CreateAsSelect(_) | Statement::InsertInto { .. } => queries = true,
            Statement::CreateSource(_)
            | Statement::SetProperty { .. }
            | Statement::UnsetProperty(_) => {}
            _ => {
                return Err(KsqlError::Statement(format!(
                    "{SUPPORTED}\nStatement: {};",
                    p.text
                )))
            }
        }
        out.push(p);
    }
    if !queries {
        return Err(KsqlError::Statement(
            "The SQL file does not contain any persistent queries. i.e. it contains no 'INSERT INTO', 'CREATE TABLE x AS SELECT' or 'CREATE STREAM x AS SELECT' style statements.".into(),
        ));
    }
    Ok(out)
}
