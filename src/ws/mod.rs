//! Websockets (README, "Websockets"): `GET /ws/activities/{activityId}` and
//! `GET /ws/groups/{groupId}` push the durable state of an activity or a group as JSON
//! text frames: the current state first, then coalesced updates, at most one frame per
//! subscriber per `ws.push_interval_ms`, always ending on the latest state.
//!
//! # Layout
//! - `frame`: the frame types of the contract, serialised once per state and shared.
//! - `hub`: one fan-out task per watched activity or group; per-connection mailboxes of one
//!   frame; the connection limit; slow clients are ended here.
//! - `session`: one connection after the upgrade: writes, heartbeat, close.
//!
//! Checks happen before the upgrade, as plain HTTP errors in the standard envelope: an
//! unknown id, an activity the public detail does not show (a draft, one in approval:
//! `public_activity`) or a group of one is 404 NOT_FOUND, a full house
//! (`ws.max_connections`, or the server shutting down) is 503 OVERLOADED, a request that
//! is not a websocket handshake is 400 VALIDATION_FAILED.

pub mod frame;
pub mod hub;
pub mod session;

use crate::config::WsSettings;
use crate::core::outcome::public_activity;
use crate::core::Core;
use crate::http::error::{ApiError, ErrorCode};
use crate::http::extract::activity_id;
use actix_web::dev::Extensions;
use actix_web::{web, HttpRequest, HttpResponse};
use frame::Pushable;
use hub::{Hub, HubOptions, TopicKey};
use playcore_actors::domain::GroupId;
use session::SessionOptions;
use std::any::Any;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The kernel send buffer of a websocket (Linux doubles it). Pushes are small (~150 bytes,
/// at most one per push interval), so this is plenty for a reading client; for one that
/// does not read, it bounds the kernel's share of what piles up (Linux autotunes loopback
/// send buffers up to 4 MiB), so a slow client shows in its mailbox within a few hundred
/// frames and is dropped (hub), instead of hiding megabytes in the kernel.
const SOCKET_SEND_BUFFER_BYTES: i32 = 8 * 1024;

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route(
            "/ws/activities/{activityId}",
            web::get().to(activity_socket),
        )
        .route("/ws/groups/{groupId}", web::get().to(group_socket));
}

impl HubOptions {
    pub fn from_settings(settings: &WsSettings) -> HubOptions {
        HubOptions {
            push_interval: Duration::from_millis(settings.push_interval_ms),
            slow_client_timeout: Duration::from_millis(settings.slow_client_timeout_ms),
            max_connections: settings.max_connections,
        }
    }
}

impl SessionOptions {
    pub fn from_settings(settings: &WsSettings) -> SessionOptions {
        SessionOptions {
            push_interval: Duration::from_millis(settings.push_interval_ms),
            heartbeat_interval: Duration::from_millis(settings.heartbeat_interval_ms),
            client_timeout: Duration::from_millis(settings.client_timeout_ms),
        }
    }
}

/// What the websocket handlers share: the hub and the heartbeat settings.
pub struct Websockets {
    pub hub: Arc<Hub>,
    pub session: SessionOptions,
}

impl Websockets {
    pub fn new(settings: &WsSettings, metrics: &crate::telemetry::Metrics) -> Websockets {
        Websockets {
            hub: Arc::new(Hub::new(HubOptions::from_settings(settings), metrics)),
            session: SessionOptions::from_settings(settings),
        }
    }
}

type CoreData = web::Data<Arc<Core>>;
type WebsocketsData = web::Data<Websockets>;

async fn activity_socket(
    request: HttpRequest,
    body: web::Payload,
    path: web::Path<String>,
    core: CoreData,
    websockets: WebsocketsData,
) -> Result<HttpResponse, ApiError> {
    let id = activity_id(&path)?;
    public_activity(&core, id)?;
    let source = core
        .runtime
        .registry
        .subscribe_activity(id)
        .ok_or_else(|| ApiError::not_found("activity", id))?;
    upgrade(&request, body, &websockets, TopicKey::Activity(id), source)
}

async fn group_socket(
    request: HttpRequest,
    body: web::Payload,
    path: web::Path<String>,
    core: CoreData,
    websockets: WebsocketsData,
) -> Result<HttpResponse, ApiError> {
    let text = path.into_inner();
    let id = GroupId::parse(&text)
        .filter(|id| public_activity(&core, id.activity).is_ok())
        .ok_or_else(|| ApiError::not_found("group", &text))?;
    let source = core
        .runtime
        .registry
        .subscribe_group(id)
        .ok_or_else(|| ApiError::not_found("group", &text))?;
    upgrade(&request, body, &websockets, TopicKey::Group(id), source)
}

/// The socket of a connection, remembered by [`remember_socket`] for the upgrade.
#[derive(Clone, Copy, Debug)]
struct ConnectionSocket(i32);

/// `HttpServer::on_connect` hook: remembers each plain TCP connection's socket, so a
/// websocket upgrade on it can bound its send buffer.
pub fn remember_socket(connection: &dyn Any, data: &mut Extensions) {
    #[cfg(unix)]
    if let Some(stream) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() {
        use std::os::fd::AsRawFd;
        data.insert(ConnectionSocket(stream.as_raw_fd()));
    }
    #[cfg(not(unix))]
    let _ = (connection, data);
}

/// Shrinks the connection's kernel send buffer to [`SOCKET_SEND_BUFFER_BYTES`]; best
/// effort (a failure only leaves the kernel's default).
fn bound_send_buffer(request: &HttpRequest) {
    let Some(socket) = request.conn_data::<ConnectionSocket>() else {
        return;
    };
    #[cfg(unix)]
    {
        let size: libc::c_int = SOCKET_SEND_BUFFER_BYTES;
        // SAFETY: the descriptor is this request's open connection (the request borrows
        // it), and the option value is a live c_int of the length passed.
        let result = unsafe {
            libc::setsockopt(
                socket.0,
                libc::SOL_SOCKET,
                libc::SO_SNDBUF,
                std::ptr::from_ref(&size).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if result != 0 {
            tracing::debug!(error = %std::io::Error::last_os_error(), "SO_SNDBUF not set");
        }
    }
}

/// Admits the connection, completes the handshake and starts its session.
fn upgrade<V: Pushable>(
    request: &HttpRequest,
    body: web::Payload,
    websockets: &Websockets,
    key: TopicKey,
    source: watch::Receiver<Arc<V>>,
) -> Result<HttpResponse, ApiError> {
    let hub = &websockets.hub;
    if hub.is_closing() {
        return Err(ApiError::new(
            ErrorCode::Overloaded,
            "the server is shutting down",
        ));
    }
    let permit = hub.admit().ok_or_else(|| {
        ApiError::new(
            ErrorCode::Overloaded,
            "too many websockets are open (ws.max_connections); retry later",
        )
    })?;
    let (response, session, stream) = actix_ws::handle(request, body).map_err(|error| {
        ApiError::new(
            ErrorCode::ValidationFailed,
            format!("not a websocket handshake: {error}"),
        )
    })?;
    bound_send_buffer(request);
    let stream = stream.max_frame_size(session::CLIENT_FRAME_BYTES_MAX);
    let subscription = hub.subscribe(key, source, Some(session.clone()));
    actix_web::rt::spawn(session::run(
        session,
        stream,
        subscription,
        permit,
        websockets.session,
        hub.closing(),
    ));
    Ok(response)
}
