//! Who is asking: the client IP, the device and the user a request is counted against.

use std::net::IpAddr;

use actix_web::HttpRequest;
use ipnet::IpNet;

use crate::http::error::ApiError;

/// The header naming the caller's device.
pub(crate) const DEVICE_HEADER: &str = "X-Device-Id";
/// Longest device id accepted, in bytes.
pub(crate) const DEVICE_ID_BYTES_MAX: usize = 128;

/// The keys one request is counted under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Caller<'a> {
    pub ip: Option<IpAddr>,
    pub device: Option<&'a str>,
    pub user: Option<&'a str>,
}

/// The client's address: the socket peer, unless the peer is a trusted proxy; then the
/// rightmost `X-Forwarded-For` address that is not a trusted proxy itself (addresses to
/// its left were written by the client and prove nothing).
pub(crate) fn client_ip(request: &HttpRequest, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = request.peer_addr()?.ip();
    if !is_trusted(peer, trusted) {
        return Some(peer);
    }
    let forwarded = request.headers().get_all("X-Forwarded-For");
    let hops: Vec<IpAddr> = forwarded
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|hop| hop.trim().parse().ok())
        .collect();
    let client = hops
        .into_iter()
        .rev()
        .find(|hop| !is_trusted(*hop, trusted));
    Some(client.unwrap_or(peer))
}

fn is_trusted(address: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|network| network.contains(&address))
}

/// The `X-Device-Id` header, when present: printable ASCII of bounded length.
pub(crate) fn device(request: &HttpRequest) -> Result<Option<&str>, ApiError> {
    let Some(value) = request.headers().get(DEVICE_HEADER) else {
        return Ok(None);
    };
    let reason = "printable ASCII of 1 to 128 bytes";
    let text = value
        .to_str()
        .map_err(|_| ApiError::validation(DEVICE_HEADER, reason))?;
    if text.is_empty() || text.len() > DEVICE_ID_BYTES_MAX {
        return Err(ApiError::validation(DEVICE_HEADER, reason));
    }
    Ok(Some(text))
}

/// The user a request is counted against: the `userId` of its body. Verified identity
/// (a token's subject) replaces it here, in one place.
pub(crate) fn user(body_user: &str) -> Option<&str> {
    Some(body_user)
}
