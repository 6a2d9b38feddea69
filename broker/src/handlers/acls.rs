//! The ACL APIs (DescribeAcls, CreateAcls, DeleteAcls), answered as a Kafka broker without an
//! authorizer answers them: SECURITY_DISABLED, with Kafka's messages. They are advertised so that
//! admin clients and `kafka-acls` get that answer instead of "unsupported feature"; they live in
//! one file because until authorization exists they are one behaviour.

use kafka_protocol::messages::create_acls_response::AclCreationResult;
use kafka_protocol::messages::delete_acls_response::DeleteAclsFilterResult;
use kafka_protocol::messages::{
    CreateAclsRequest, CreateAclsResponse, DeleteAclsRequest, DeleteAclsResponse,
    DescribeAclsRequest, DescribeAclsResponse,
};

use super::sb;
use crate::dispatch::RequestContext;
use crate::error::ErrorCode;

/// Kafka's DescribeAcls message without an authorizer.
const DESCRIBE_MESSAGE: &str = "No Authorizer is configured on the broker";
/// Kafka's CreateAcls / DeleteAcls message without an authorizer.
const ALTER_MESSAGE: &str = "No Authorizer is configured.";

/// Handles DescribeAcls.
pub async fn describe(_ctx: RequestContext, _req: DescribeAclsRequest) -> DescribeAclsResponse {
    DescribeAclsResponse::default()
        .with_error_code(ErrorCode::SecurityDisabled.code())
        .with_error_message(Some(sb(DESCRIBE_MESSAGE)))
}

/// Handles CreateAcls: every creation refused.
pub async fn create(_ctx: RequestContext, req: CreateAclsRequest) -> CreateAclsResponse {
    let results = req
        .creations
        .iter()
        .map(|_| {
            AclCreationResult::default()
                .with_error_code(ErrorCode::SecurityDisabled.code())
                .with_error_message(Some(sb(ALTER_MESSAGE)))
        })
        .collect();
    CreateAclsResponse::default().with_results(results)
}

/// Handles DeleteAcls: every filter refused, nothing matched.
pub async fn delete(_ctx: RequestContext, req: DeleteAclsRequest) -> DeleteAclsResponse {
    let results = req
        .filters
        .iter()
        .map(|_| {
            DeleteAclsFilterResult::default()
                .with_error_code(ErrorCode::SecurityDisabled.code())
                .with_error_message(Some(sb(ALTER_MESSAGE)))
        })
        .collect();
    DeleteAclsResponse::default().with_filter_results(results)
}
