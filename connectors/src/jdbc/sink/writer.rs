//! Writes planned segments: the tables made to fit first (DDL, committed on its own), then
//! every segment in one transaction — writes as multi-row `INSERT`s (upserts with `ON
//! CONFLICT`), updates and deletes as pipelined single-row statements.

use std::collections::HashMap;

use futures::future::try_join_all;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement, Transaction};
use tributary_connect::data::{Schema, Value};

use super::config::{InsertMode, SinkSettings};
use super::plan::Segment;
use super::statements::{delete_sql, insert_sql, rows_per_statement, update_sql, upsert_sql};
use super::structure::{StructureError, Structures};
use crate::jdbc::conn::{classify, connect_with_retries, DbError};
use crate::jdbc::types::encode::Param;

/// A connection, what it knows of the tables, and its prepared statements.
pub struct Writer {
    settings: SinkSettings,
    client: Option<Client>,
    structures: Structures,
    statements: HashMap<String, Statement>,
}

/// Most prepared statements kept per connection.
const MAX_STATEMENTS: usize = 64;

async fn prepared(
    tx: &Transaction<'_>,
    cache: &mut HashMap<String, Statement>,
    sql: &str,
) -> Result<Statement, DbError> {
    if let Some(s) = cache.get(sql) {
        return Ok(s.clone());
    }
    let stmt = tx
        .prepare(sql)
        .await
        .map_err(|e| classify("Preparing a statement failed", &e))?;
    if cache.len() >= MAX_STATEMENTS {
        cache.clear();
    }
    cache.insert(sql.to_string(), stmt.clone());
    Ok(stmt)
}

/// The last row of each key, in the order of those last rows (one `INSERT .. ON CONFLICT`
/// cannot touch a row twice).
fn last_per_key(segment: &Segment, key_len: usize) -> Vec<&(usize, Vec<Value>)> {
    let mut last: HashMap<String, usize> = HashMap::with_capacity(segment.rows.len());
    for (i, (_, values)) in segment.rows.iter().enumerate() {
        let k: Vec<String> = values[..key_len].iter().map(|v| format!("{v:?}")).collect();
        last.insert(k.join("\u{1}"), i);
    }
    let mut keep: Vec<usize> = last.into_values().collect();
    keep.sort_unstable();
    keep.into_iter().map(|i| &segment.rows[i]).collect()
}

impl Writer {
    /// A writer that connects when it first writes.
    pub fn new(settings: SinkSettings) -> Writer {
        Writer {
            settings,
            client: None,
            structures: Structures::default(),
            statements: HashMap::new(),
        }
    }

    /// Drops the connection and everything learnt on it.
    pub fn reset(&mut self) {
        self.client = None;
        self.structures.clear();
        self.statements.clear();
    }

    async fn client(&mut self) -> Result<&mut Client, DbError> {
        if self.client.as_ref().is_some_and(|c| c.is_closed()) {
            self.reset();
        }
        if self.client.is_none() {
            let s = &self.settings;
            let c = connect_with_retries(&s.url, s.attempts, s.backoff).await?;
            self.client = Some(c);
        }
        self.client
            .as_mut()
            .ok_or_else(|| DbError::Transient("no connection".into()))
    }

    /// Makes each segment's table fit (or finds it missing, for deletes); the segments whose
    /// records cannot be written come back with why.
    pub async fn prepare_tables(
        &mut self,
        segments: Vec<Segment>,
    ) -> Result<(Vec<Segment>, Vec<(Segment, String)>), DbError> {
        self.client().await?;
        let Writer {
            client,
            structures,
            settings,
            ..
        } = self;
        let client = client
            .as_ref()
            .ok_or_else(|| DbError::Transient("no connection".into()))?;
        let mut ready = Vec::with_capacity(segments.len());
        let mut refused = Vec::new();
        for g in segments {
            if g.delete {
                // nothing to delete from a table that does not exist
                if structures.get(client, &g.table).await?.is_some() {
                    ready.push(g);
                }
                continue;
            }
            match structures
                .ensure(client, settings, &g.table, &g.fields)
                .await
            {
                Ok(()) => ready.push(g),
                Err(StructureError::Refused(why)) => refused.push((g, why)),
                Err(StructureError::Db(e)) if e.is_transient() => return Err(e),
                Err(StructureError::Db(e)) => refused.push((g, e.message().to_string())),
            }
        }
        Ok((ready, refused))
    }

    /// Writes the segments in one transaction.
    pub async fn write(&mut self, segments: &[Segment]) -> Result<(), DbError> {
        self.client().await?;
        let Writer {
            client,
            statements,
            settings,
            ..
        } = self;
        let client = client
            .as_mut()
            .ok_or_else(|| DbError::Transient("no connection".into()))?;
        let tx = client
            .transaction()
            .await
            .map_err(|e| classify("Starting a transaction failed", &e))?;
        for g in segments {
            write_segment(&tx, statements, settings, g).await?;
        }
        tx.commit()
            .await
            .map_err(|e| classify("Committing the writes failed", &e))?;
        Ok(())
    }

    /// Forgets what it knows of the tables (they may have changed under it).
    pub fn forget_tables(&mut self) {
        self.structures.clear();
    }
}

fn params<'a>(values: &'a [Value], schemas: &[Option<&'a Schema>]) -> Vec<Param<'a>> {
    values
        .iter()
        .zip(schemas)
        .map(|(v, s)| Param {
            value: v,
            schema: *s,
        })
        .collect()
}

async fn write_segment(
    tx: &Transaction<'_>,
    statements: &mut HashMap<String, Statement>,
    s: &SinkSettings,
    g: &Segment,
) -> Result<(), DbError> {
    let schemas = g.column_schemas();
    let key = &g.fields.key;
    let what =
        |e: tokio_postgres::Error| classify(&format!("Writing to {}", g.table.unquoted()), &e);
    if g.delete || s.insert_mode == InsertMode::Update {
        if !g.delete && g.fields.non_key.is_empty() {
            return Ok(());
        }
        let sql = if g.delete {
            delete_sql(&g.table, key)
        } else {
            update_sql(&g.table, key, &g.fields.non_key)
        };
        let stmt = prepared(tx, statements, &sql).await?;
        // UPDATE takes the non-key values first
        let rows: Vec<Vec<Value>> = g
            .rows
            .iter()
            .map(|(_, v)| {
                if g.delete {
                    v.clone()
                } else {
                    v[key.len()..]
                        .iter()
                        .chain(&v[..key.len()])
                        .cloned()
                        .collect()
                }
            })
            .collect();
        let reordered: Vec<Option<&Schema>> = if g.delete {
            schemas.clone()
        } else {
            schemas[key.len()..]
                .iter()
                .chain(&schemas[..key.len()])
                .copied()
                .collect()
        };
        for chunk in rows.chunks(s.batch_size) {
            let sets: Vec<Vec<Param<'_>>> = chunk
                .iter()
                .map(|v| {
                    v.iter()
                        .zip(&reordered)
                        .map(|(v, s)| Param {
                            value: v,
                            schema: *s,
                        })
                        .collect()
                })
                .collect();
            let refs: Vec<Vec<&(dyn ToSql + Sync)>> = sets
                .iter()
                .map(|p| p.iter().map(|x| x as &(dyn ToSql + Sync)).collect())
                .collect();
            try_join_all(refs.iter().map(|r| tx.execute(&stmt, r)))
                .await
                .map_err(what)?;
        }
        return Ok(());
    }
    let upsert = s.insert_mode == InsertMode::Upsert;
    let rows: Vec<&(usize, Vec<Value>)> = if upsert {
        last_per_key(g, key.len())
    } else {
        g.rows.iter().collect()
    };
    let per = rows_per_statement(g.columns.len(), s.batch_size);
    let sql_of = |n: usize| {
        if upsert {
            upsert_sql(&g.table, key, &g.fields.non_key, n)
        } else {
            insert_sql(&g.table, &g.columns, n)
        }
    };
    for chunk in rows.chunks(per) {
        let all: Vec<Param<'_>> = chunk
            .iter()
            .flat_map(|(_, v)| params(v, &schemas))
            .collect();
        let refs: Vec<&(dyn ToSql + Sync)> = all.iter().map(|x| x as &(dyn ToSql + Sync)).collect();
        // (prepared and kept whatever the row count: a sink that keeps up sees the same
        // counts again and again, the sink loop's batch most of all, and parsing and planning
        // a statement of thousands of parameters on every put cost as much as running it)
        let stmt = prepared(tx, statements, &sql_of(chunk.len())).await?;
        tx.execute(&stmt, &refs).await.map_err(what)?;
    }
    Ok(())
}
