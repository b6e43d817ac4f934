//! Request ids: every reply carries one, in the `X-Request-Id` header and in the
//! envelope's `requestId`.
//!
//! [`RequestIdMiddleware`] takes the client's `X-Request-Id` when it is 1..=128 visible
//! ASCII characters, or generates one, and runs the rest of the request inside a tokio
//! task-local scope holding it. Envelope and error rendering read it with [`current`], so
//! handlers never pass it around, and extractor errors and the 404 of the default service
//! carry it too. This is the flash-sale hot path, so the id lives inline (no allocation)
//! and generating one costs an atomic increment and a few multiplications.
//!
//! The middleware also counts responses by status class in [`Metrics`], found in the
//! app data, and sets the security headers (`super::headers`): one layer instead of three
//! keeps the per-request overhead to one future.

use std::fmt;
use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::error::InternalError;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{web, Error, FromRequest, HttpRequest};
use pin_project_lite::pin_project;
use serde::{Serialize, Serializer};
use tokio::task::futures::TaskLocalFuture;

use super::headers::{self, Policy};
use crate::telemetry::Metrics;

/// The header carrying the request id, in both directions.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client-supplied id accepted; longer ones are replaced by a generated id
/// (an id is for correlating logs, not for carrying data).
pub const REQUEST_ID_LENGTH_MAX: usize = 128;

/// Length of a generated id: 64 bits as lowercase hex.
const GENERATED_LENGTH: usize = 16;

tokio::task_local! {
    static CURRENT: RequestId;
}

/// A request id: 1..=128 visible ASCII characters, stored inline so it is `Copy`.
#[derive(Clone, Copy)]
pub struct RequestId {
    bytes: [u8; REQUEST_ID_LENGTH_MAX],
    length: u8,
}

impl RequestId {
    /// Accepts 1..=128 visible ASCII characters (0x21..=0x7E), the rest is refused.
    pub fn parse(value: &[u8]) -> Option<Self> {
        let valid_length = (1..=REQUEST_ID_LENGTH_MAX).contains(&value.len());
        if !valid_length || !value.iter().all(|byte| (0x21..=0x7E).contains(byte)) {
            return None;
        }
        let mut bytes = [0; REQUEST_ID_LENGTH_MAX];
        bytes[..value.len()].copy_from_slice(value);
        let length = u8::try_from(value.len()).ok()?;
        Some(Self { bytes, length })
    }

    /// A new id, unique within this process: a counter mixed with the process start time
    /// through the splitmix64 finalizer (a bijection, so distinct counts give distinct ids;
    /// the start time makes ids of successive runs differ).
    pub fn generate() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;
        let count = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mixed = splitmix64(process_seed().wrapping_add(count.wrapping_mul(GOLDEN_GAMMA)));
        let mut bytes = [0; REQUEST_ID_LENGTH_MAX];
        for (index, slot) in bytes[..GENERATED_LENGTH].iter_mut().enumerate() {
            let nibble = (mixed >> (60 - 4 * index)) & 0xF;
            *slot = b"0123456789abcdef"[nibble as usize];
        }
        Self {
            bytes,
            length: GENERATED_LENGTH as u8,
        }
    }

    pub fn as_str(&self) -> &str {
        // Only visible ASCII is ever stored, so this cannot fail.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.length)]
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "RequestId({})", self.as_str())
    }
}

impl PartialEq for RequestId {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for RequestId {}

impl Serialize for RequestId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Handlers may take the id as an argument, e.g. to hand it to a spawned task.
impl FromRequest for RequestId {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(_request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(Ok(current()))
    }
}

/// The id of the request being served; outside a request (a spawned task, a test) a fresh
/// one, so rendering never fails for want of an id.
pub fn current() -> RequestId {
    CURRENT
        .try_with(|id| *id)
        .unwrap_or_else(|_| RequestId::generate())
}

fn process_seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos() as u64)
            .unwrap_or(0);
        nanos ^ (u64::from(std::process::id()) << 32)
    })
}

fn splitmix64(mut value: u64) -> u64 {
    value = (value ^ (value >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    value = (value ^ (value >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    value ^ (value >> 31)
}

/// The middleware; register it outermost (`App::wrap`, last) so that it sees every reply.
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestIdMiddleware;

impl<S, B> Transform<S, ServiceRequest> for RequestIdMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = RequestIdService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequestIdService { service }))
    }
}

/// The per-worker service built by [`RequestIdMiddleware`].
pub struct RequestIdService<S> {
    service: S,
}

impl<S, B> Service<ServiceRequest> for RequestIdService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = TaskLocalFuture<RequestId, Finish<S::Future>>;

    actix_web::dev::forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let incoming = request
            .headers()
            .get(&REQUEST_ID_HEADER)
            .and_then(|value| RequestId::parse(value.as_bytes()).map(|id| (id, value.clone())));
        let (id, echoed_header) = match incoming {
            Some((id, value)) => (id, Some(value)),
            None => (RequestId::generate(), None),
        };
        let policy = headers::policy(&request);
        // The inner `call` may build a reply synchronously (routing), so it runs in scope too.
        let inner = CURRENT.sync_scope(id, || self.service.call(request));
        CURRENT.scope(
            id,
            Finish {
                inner,
                echoed_header,
                policy,
            },
        )
    }
}

pin_project! {
    /// Completes a request: sets the `X-Request-Id` header and counts the status class.
    /// An `Err` is rendered here, while the id is in scope, and handed on pre-rendered.
    pub struct Finish<F> {
        #[pin]
        inner: F,
        echoed_header: Option<HeaderValue>,
        policy: Policy,
    }
}

impl<F, B> Future for Finish<F>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>>,
{
    type Output = Result<ServiceResponse<B>, Error>;

    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = match this.inner.poll(context) {
            Poll::Ready(result) => result,
            Poll::Pending => return Poll::Pending,
        };
        let header = this
            .echoed_header
            .take()
            .or_else(|| HeaderValue::from_bytes(current().as_bytes()).ok());
        Poll::Ready(match result {
            Ok(mut response) => {
                if let Some(header) = header {
                    response.headers_mut().insert(REQUEST_ID_HEADER, header);
                }
                headers::apply(*this.policy, response.headers_mut());
                if let Some(metrics) = response.request().app_data::<web::Data<Metrics>>() {
                    metrics.record_http_response(response.status());
                }
                Ok(response)
            }
            Err(error) => Err(prerendered(error, header, *this.policy)),
        })
    }
}

/// An error that escaped the handlers (a middleware's, say) is rendered by actix after
/// this middleware is done, outside the request-id scope; render it now instead and pass
/// the finished reply on.
fn prerendered(error: Error, header: Option<HeaderValue>, policy: Policy) -> Error {
    let mut response = error.error_response();
    if let Some(header) = header {
        response.headers_mut().insert(REQUEST_ID_HEADER, header);
    }
    headers::apply(policy, response.headers_mut());
    InternalError::from_response(error.to_string(), response).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_visible_ascii_up_to_the_limit() {
        assert!(RequestId::parse(b"abc-123_XYZ").is_some());
        assert!(RequestId::parse(&[b'a'; REQUEST_ID_LENGTH_MAX]).is_some());
    }

    #[test]
    fn refuses_empty_long_spaces_and_non_ascii() {
        assert!(RequestId::parse(b"").is_none());
        assert!(RequestId::parse(&[b'a'; REQUEST_ID_LENGTH_MAX + 1]).is_none());
        assert!(RequestId::parse(b"has space").is_none());
        assert!(RequestId::parse("é".as_bytes()).is_none());
    }

    #[test]
    fn generated_ids_are_sixteen_hex_and_distinct() {
        let first = RequestId::generate();
        let second = RequestId::generate();
        assert_eq!(first.as_str().len(), GENERATED_LENGTH);
        assert!(first.as_str().bytes().all(|byte| byte.is_ascii_hexdigit()));
        assert_ne!(first, second);
    }

    #[actix_web::test]
    async fn current_is_the_scoped_id() {
        let id = RequestId::parse(b"scoped-id").expect("valid id");
        let seen = CURRENT.scope(id, async { current() }).await;
        assert_eq!(seen.as_str(), "scoped-id");
    }
}
