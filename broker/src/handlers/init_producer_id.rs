//! InitProducerId: a producer id and epoch for an idempotent producer, or for a transactional
//! one (through the transaction coordinator, fencing older producers of its
//! `transactional.id`). v3+ lets a producer bump its epoch after an error (KIP-360).

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use crate::dispatch::RequestContext;
use crate::error::ErrorCode;

fn error(code: ErrorCode) -> InitProducerIdResponse {
    InitProducerIdResponse::default()
        .with_error_code(code.code())
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1)
}

/// Handles InitProducerId.
pub async fn handle(ctx: RequestContext, req: InitProducerIdRequest) -> InitProducerIdResponse {
    let txns = &ctx.state.txns;
    let expected = (ctx.version >= 3 && req.producer_id.0 >= 0)
        .then_some((req.producer_id.0, req.producer_epoch));
    let result = match req.transactional_id.as_ref().map(|t| t.0.as_str()) {
        // an idempotent producer always gets a fresh id, as in Kafka
        None => txns.new_producer_id().await.map(|id| (id, 0)),
        Some(id) => match txns.ensure_topic().await {
            Ok(()) => {
                match txns
                    .init_producer_id(id, req.transaction_timeout_ms, expected)
                    .await
                {
                    // answered once the new epoch is replicated
                    Ok(done) => match txns.replicated(id).await {
                        ErrorCode::None => Ok(done),
                        code => Err(code),
                    },
                    Err(code) => Err(code),
                }
            }
            Err(code) => Err(code),
        },
    };
    match result {
        Ok((id, epoch)) => InitProducerIdResponse::default()
            .with_producer_id(ProducerId(id))
            .with_producer_epoch(epoch),
        // PRODUCER_FENCED is known to clients from v4 on (KIP-588)
        Err(ErrorCode::ProducerFenced) if ctx.version < 4 => error(ErrorCode::InvalidProducerEpoch),
        Err(code) => error(code),
    }
}
