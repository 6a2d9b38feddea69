//! ApiVersions: which APIs and versions this broker serves, generated from the route table.

use kafka_protocol::messages::api_versions_response::{
    ApiVersion, FinalizedFeatureKey, SupportedFeatureKey,
};
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse};

use crate::dispatch::{RequestContext, ROUTES};
use crate::error::ErrorCode;

/// The feature flags this broker reports (KIP-584; `kafka-features describe`, Admin
/// `describeFeatures`): `(name, lowest supported, highest supported, finalized level)`.
///
/// Only features whose levels change what a client does are listed, at the levels Tributary
/// implements: `group.version` 1 is the KIP-848 consumer group protocol. `transaction.version` is
/// left out (level 0): level 2 (KIP-890 part 2, an epoch bump per transaction) would switch the
/// Java producer to protocol versions Tributary does not serve. `metadata.version` and
/// `kraft.version` describe a KRaft controller's record formats, which Tributary does not have.
pub const FEATURES: &[(&str, i16, i16, i16)] = &[("group.version", 0, 1, 1)];

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
    if ctx.version >= 3 {
        resp.supported_features = FEATURES
            .iter()
            .map(|(name, min, max, _)| {
                SupportedFeatureKey::default()
                    .with_name(super::sb(*name))
                    .with_min_version(*min)
                    .with_max_version(*max)
            })
            .collect();
        resp.finalized_features = FEATURES
            .iter()
            .map(|(name, _, _, level)| {
                FinalizedFeatureKey::default()
                    .with_name(super::sb(*name))
                    .with_min_version_level(*level)
                    .with_max_version_level(*level)
            })
            .collect();
        // the finalized levels never change; any non-negative epoch says they are known
        resp.finalized_features_epoch = ctx.state.image().offset.max(0);
    }
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
