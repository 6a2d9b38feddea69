//! IncrementalAlterConfigs: set, delete, append to or subtract from single config keys of
//! topics and brokers (`kafka-configs.sh --alter`).

use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse};

use super::alter_configs::{answer, apply, resource};
use crate::dispatch::RequestContext;
use crate::error::ErrorCode;
use crate::metadata::{ConfigAlteration, ConfigOp};

/// Handles IncrementalAlterConfigs.
pub async fn handle(
    ctx: RequestContext,
    req: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let parsed = req
        .resources
        .iter()
        .map(|r| {
            let resource = resource(r.resource_type, r.resource_name.as_str())?;
            let ops = r
                .configs
                .iter()
                .map(|c| {
                    let value = c.value.as_ref().map(|v| v.to_string());
                    let op = match (c.config_operation, value) {
                        (0, Some(v)) => ConfigOp::Set(v),
                        (1, _) => ConfigOp::Delete,
                        (2, Some(v)) => ConfigOp::Append(v),
                        (3, Some(v)) => ConfigOp::Subtract(v),
                        (0 | 2 | 3, None) => {
                            return Err((
                                ErrorCode::InvalidRequest,
                                format!("Null value not supported for: {}", c.name.as_str()),
                            ))
                        }
                        (other, _) => {
                            return Err((
                                ErrorCode::InvalidRequest,
                                format!("Unknown config operation {other}"),
                            ))
                        }
                    };
                    Ok((c.name.to_string(), op))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(ConfigAlteration {
                resource,
                ops,
                replace: false,
            })
        })
        .collect();
    let results = apply(&ctx, parsed, req.validate_only).await;
    let responses = req
        .resources
        .into_iter()
        .zip(results)
        .map(|(r, result)| {
            let a = answer(r.resource_type, r.resource_name, result);
            AlterConfigsResourceResponse::default()
                .with_error_code(a.error_code)
                .with_error_message(a.error_message)
                .with_resource_type(a.resource_type)
                .with_resource_name(a.resource_name)
        })
        .collect();
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}
