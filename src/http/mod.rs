//! HTTP plumbing shared by every route: the reply envelope and the contract's errors,
//! wire types, extractors, the request id, the grab's hand-written reply, bearer-token
//! auth and payment signatures. It knows nothing of the running core or of any feature,
//! so every layer above may use it.

pub mod auth;
pub(crate) mod dto;
pub(crate) mod envelope;
pub mod error;
pub(crate) mod extract;
pub mod headers;
pub(crate) mod order_reply;
pub(crate) mod request_id;
pub mod signature;

/// Runs storage work on the blocking pool from a handler; its error is INTERNAL.
pub(crate) async fn blocking<T: Send + 'static, E: std::fmt::Display + Send + 'static>(
    work: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, error::ApiError> {
    actix_web::web::block(work)
        .await
        .map_err(error::ApiError::internal)?
        .map_err(error::ApiError::internal)
}
