//! ApiVersions: which APIs and versions this broker serves, generated from the route table.

use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse};

use crate::dispatch::{RequestContext, ROUTES};
use crate::error::ErrorCode;

/// Kafka's rule for client software names and versions (KIP-511).
fn valid_software_field(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.last().is_some_and(u8::is_ascii_alphanumeric)
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'.')
}

/// Handles ApiVersions.
pub async fn handle(ctx: RequestContext, req: ApiVersionsRequest) -> ApiVersionsResponse {
    let mut resp = ApiVersionsResponse::default();
    if ctx.version >= 3
        && !(valid_software_field(&req.client_software_name)
            && valid_software_field(&req.client_software_version))
    {
        tracing::info!(peer = %ctx.peer, name = %req.client_software_name.as_str(), version = %req.client_software_version.as_str(), "invalid client software name or version");
        resp.error_code = ErrorCode::InvalidRequest.code();
        return resp;
    }
    resp.api_keys = ROUTES
        .iter()
        .map(|r| {
            ApiVersion::default()
                .with_api_key(r.key as i16)
                .with_min_version(r.min)
                .with_max_version(r.max)
        })
        .collect();
    resp
}

/// The v0 answer to an ApiVersions version this broker does not know.
pub fn unsupported() -> ApiVersionsResponse {
    let mut resp = ApiVersionsResponse::default();
    resp.error_code = ErrorCode::UnsupportedVersion.code();
    if let Some(r) = ROUTES.iter().find(|r| r.key == ApiKey::ApiVersions) {
        resp.api_keys = vec![ApiVersion::default()
            .with_api_key(r.key as i16)
            .with_min_version(r.min)
            .with_max_version(r.max)];
    }
    resp
}
