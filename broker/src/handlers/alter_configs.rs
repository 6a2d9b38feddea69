//! AlterConfigs (the legacy API: each resource's listed configs become its whole set of
//! overrides) and the shared resource parsing for IncrementalAlterConfigs.

use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{AlterConfigsRequest, AlterConfigsResponse};
use kafka_protocol::protocol::StrBytes;

use super::sb;
use crate::dispatch::RequestContext;
use crate::error::ErrorCode;
use crate::metadata::{ConfigAlteration, ConfigOp, ConfigResource};

const TOPIC: i8 = 2;
const BROKER: i8 = 4;
const GROUP: i8 = 32;

/// The metadata resource a request names, or the error its answer carries.
pub(crate) fn resource(kind: i8, name: &str) -> Result<ConfigResource, (ErrorCode, String)> {
    match kind {
        TOPIC if name.is_empty() => Err((
            ErrorCode::InvalidRequest,
            "Topic name must not be empty".into(),
        )),
        TOPIC => Ok(ConfigResource::Topic(name.to_string())),
        BROKER if name.is_empty() => Ok(ConfigResource::Broker(None)),
        BROKER => name
            .parse::<i32>()
            .map(|id| ConfigResource::Broker(Some(id)))
            .map_err(|_| {
                (
                    ErrorCode::InvalidRequest,
                    format!("Broker id must be an integer, got '{name}'"),
                )
            }),
        GROUP => Ok(ConfigResource::Group(name.to_string())),
        other => Err((
            ErrorCode::InvalidRequest,
            format!("Unsupported resource type {other}; Tributary alters topic (2), broker (4) and group (32) configs"),
        )),
    }
}

/// Runs the parsed alterations and fills in every resource's answer, in request order.
/// `parsed[i]` is `Err` for resources already refused; a resource named twice is refused
/// everywhere it appears, as Kafka answers.
pub(crate) async fn apply(
    ctx: &RequestContext,
    mut parsed: Vec<Result<ConfigAlteration, (ErrorCode, String)>>,
    validate_only: bool,
) -> Vec<Result<(), (ErrorCode, String)>> {
    let mut seen = std::collections::HashMap::new();
    for p in parsed.iter().flatten() {
        *seen.entry(p.resource.clone()).or_insert(0) += 1;
    }
    for p in parsed.iter_mut() {
        if p.as_ref().is_ok_and(|a| seen[&a.resource] > 1) {
            *p = Err((
                ErrorCode::InvalidRequest,
                "Each resource must appear at most once.".to_string(),
            ));
        }
    }
    let valid: Vec<ConfigAlteration> = parsed.iter().filter_map(|p| p.clone().ok()).collect();
    let mut done = ctx
        .state
        .controller
        .alter_configs(valid, validate_only)
        .await
        .into_iter();
    parsed
        .into_iter()
        .map(|p| match p {
            Ok(_) => done
                .next()
                .unwrap_or_else(|| Err((ErrorCode::UnknownServerError, "no answer".to_string()))),
            Err(e) => Err(e),
        })
        .collect()
}

/// The per-resource answer both APIs share.
pub(crate) fn answer(
    kind: i8,
    name: StrBytes,
    result: Result<(), (ErrorCode, String)>,
) -> AlterConfigsResourceResponse {
    let base = AlterConfigsResourceResponse::default()
        .with_resource_type(kind)
        .with_resource_name(name.clone());
    match result {
        Ok(()) => base,
        Err((code, message)) => {
            let resource = match kind {
                TOPIC => "topic",
                BROKER => "broker",
                GROUP => "group",
                _ => "resource",
            };
            tracing::info!(resource, name = %name.as_str(), error = ?code, reason = %message, "config change refused");
            base.with_error_code(code.code())
                .with_error_message(Some(sb(message)))
        }
    }
}

/// Handles AlterConfigs.
pub async fn handle(ctx: RequestContext, req: AlterConfigsRequest) -> AlterConfigsResponse {
    let parsed = req
        .resources
        .iter()
        .map(|r| {
            let resource = resource(r.resource_type, r.resource_name.as_str())?;
            let ops = r
                .configs
                .iter()
                .map(|c| match &c.value {
                    Some(v) => Ok((c.name.to_string(), ConfigOp::Set(v.to_string()))),
                    None => Err((
                        ErrorCode::InvalidRequest,
                        format!("Null value not supported for : {}", c.name.as_str()),
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(ConfigAlteration {
                resource,
                ops,
                replace: true,
            })
        })
        .collect();
    let results = apply(&ctx, parsed, req.validate_only).await;
    let responses = req
        .resources
        .into_iter()
        .zip(results)
        .map(|(r, result)| answer(r.resource_type, r.resource_name, result))
        .collect();
    AlterConfigsResponse::default().with_responses(responses)
}
