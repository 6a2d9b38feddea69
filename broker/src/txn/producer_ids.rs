//! Producer ids handed out by this broker, in blocks allocated through the metadata log
//! (Kafka's `ProducerIdManager` and AllocateProducerIds): an id is never given twice, even
//! after a restart, because a block is in the metadata log before any id of it is used.

use crate::error::ErrorCode;
use crate::metadata::Controller;

/// Ids per block, as Kafka's `ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE`.
pub const BLOCK_SIZE: i64 = 1000;

/// Hands out producer ids from the current block, fetching a new block when it runs out.
pub struct ProducerIdManager {
    controller: Controller,
    node_id: i32,
    /// `(next id, end of block)`.
    block: tokio::sync::Mutex<(i64, i64)>,
}

impl ProducerIdManager {
    /// A manager for broker `node_id`; its first call allocates a block.
    pub fn new(controller: Controller, node_id: i32) -> Self {
        ProducerIdManager {
            controller,
            node_id,
            block: tokio::sync::Mutex::new((0, 0)),
        }
    }

    /// The next unused producer id.
    pub async fn next(&self) -> Result<i64, ErrorCode> {
        let mut block = self.block.lock().await;
        if block.0 >= block.1 {
            let start = self
                .controller
                .allocate_producer_ids(self.node_id, BLOCK_SIZE)
                .await
                .map_err(|(code, msg)| {
                    tracing::error!(?code, error = %msg, "cannot allocate producer ids");
                    ErrorCode::CoordinatorNotAvailable
                })?;
            *block = (start, start + BLOCK_SIZE);
        }
        let id = block.0;
        block.0 += 1;
        Ok(id)
    }
}
