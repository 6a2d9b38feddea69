//! `JdbcSinkTask`: each `put` is written and committed in one transaction, so `flush` has
//! nothing left to do and the offsets Connect commits are always of written records.
//!
//! ```text
//!  put ─▶ plan (bad records ─▶ errant record reporter) ─▶ tables fit? (refused ─▶ reporter)
//!      ─▶ one transaction ─▶ ok: done
//!                         └▶ connection lost, deadlock...: wait retry.backoff.ms, retriable
//!                            (max.retries times, then the task fails)
//!                         └▶ bad data: each record on its own; the failing ones ─▶ reporter
//! ```

use std::sync::Arc;

use futures::future::BoxFuture;
use tributary_connect::config::Config;
use tributary_connect::connector::{ConnectError, SinkTask, SinkTaskContext};
use tributary_connect::record::ConnectRecord;

use super::config::SinkSettings;
use super::plan::{plan, Segment};
use super::writer::Writer;
use crate::jdbc::conn::DbError;

/// Confluent's JDBC sink task.
#[derive(Default)]
pub struct JdbcSinkTask {
    state: Option<Started>,
}

struct Started {
    settings: SinkSettings,
    writer: Writer,
    context: Arc<dyn SinkTaskContext>,
    /// Confluent's `remainingRetries`: passing failures left before the task fails.
    remaining_retries: u32,
}

impl Started {
    async fn report(&self, r: &ConnectRecord, why: &str) -> Result<(), ConnectError> {
        tracing::warn!(topic = %r.topic, partition = r.kafka_partition.unwrap_or(-1), offset = r.kafka_offset().unwrap_or(-1), error = why, "a record cannot be written");
        self.context.report(r, why).await
    }

    /// The answer to a passing failure: retriable while retries are left.
    async fn passing_failure(&mut self, records: usize, e: DbError) -> ConnectError {
        self.writer.reset();
        if self.remaining_retries == 0 {
            return ConnectError::Fatal(format!(
                "Failing task after exhausting retries ({}): {e}",
                self.settings.max_retries
            ));
        }
        self.remaining_retries -= 1;
        tracing::warn!(error = %e, records, remaining_retries = self.remaining_retries, "the write failed; it is tried again in {:?}", self.settings.retry_backoff);
        // (Confluent asks the worker to wait with context.timeout)
        tokio::time::sleep(self.settings.retry_backoff).await;
        ConnectError::Retriable(format!(
            "Write of {records} records failed, remainingRetries={}: {e}",
            self.remaining_retries
        ))
    }

    /// Writes the records of the segments one by one, reporting those the database refuses.
    async fn one_by_one(
        &mut self,
        records: &[ConnectRecord],
        segments: &[Segment],
    ) -> Result<(), ConnectError> {
        self.writer.forget_tables();
        for g in segments {
            for row in 0..g.rows.len() {
                let single = g.single(row);
                let record = &records[single.rows[0].0];
                match self.writer.write(std::slice::from_ref(&single)).await {
                    Ok(()) => {}
                    Err(e) if e.is_transient() => {
                        return Err(self.passing_failure(1, e).await);
                    }
                    Err(e) => self.report(record, e.message()).await?,
                }
            }
        }
        Ok(())
    }

    async fn put(&mut self, records: &[ConnectRecord]) -> Result<(), ConnectError> {
        let (segments, bad) = plan(&self.settings, records.iter().enumerate());
        for (i, why) in &bad {
            self.report(&records[*i], why).await?;
        }
        if segments.is_empty() {
            return Ok(());
        }
        let (ready, refused) = match self.writer.prepare_tables(segments).await {
            Ok(r) => r,
            Err(e) => return Err(self.passing_failure(records.len(), e).await),
        };
        for (g, why) in &refused {
            for (i, _) in &g.rows {
                self.report(&records[*i], why).await?;
            }
        }
        match self.writer.write(&ready).await {
            Ok(()) => {}
            Err(e) if e.is_transient() => {
                return Err(self.passing_failure(records.len(), e).await);
            }
            Err(e) => {
                tracing::warn!(error = %e, records = records.len(), "the batch was refused; writing its records one by one");
                self.one_by_one(records, &ready).await?;
            }
        }
        self.remaining_retries = self.settings.max_retries;
        Ok(())
    }
}

impl SinkTask for JdbcSinkTask {
    fn start<'a>(
        &'a mut self,
        config: &'a Config,
        context: Arc<dyn SinkTaskContext>,
    ) -> BoxFuture<'a, Result<(), ConnectError>> {
        Box::pin(async move {
            let settings = SinkSettings::from_config(config)?;
            self.state = Some(Started {
                writer: Writer::new(settings.clone()),
                remaining_retries: settings.max_retries,
                settings,
                context,
            });
            Ok(())
        })
    }

    fn put<'a>(
        &'a mut self,
        records: &'a [ConnectRecord],
    ) -> BoxFuture<'a, Result<(), ConnectError>> {
        Box::pin(async move {
            if records.is_empty() {
                return Ok(());
            }
            let state = self
                .state
                .as_mut()
                .ok_or_else(|| ConnectError::Fatal("the task is not started".into()))?;
            state.put(records).await
        })
    }

    fn stop(&mut self) {
        self.state = None;
    }
}
