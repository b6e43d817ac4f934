//! Wiring and lifecycle: recover the core, then bind, serve, and shut down in order.
//!
//! Shutdown protocol (SIGTERM or Ctrl-C):
//! 1. websockets get a close frame (1001 Going Away); the HTTP server stops accepting
//!    connections and lets in-flight requests finish, for at most
//!    `server.shutdown_timeout_seconds`;
//! 2. the lifecycle scheduler's tasks stop (`Scheduler::stop`), webhook deliveries stop
//!    (their state stays), then `Core::shutdown` flushes the journal and writes
//!    snapshots, then the event indexer indexes the journal's last entries, flushes the
//!    event store and stops;
//! 3. the process exits 0, or 75 ([`JOURNAL_FAILED_EXIT_CODE`]) when the journal could not
//!    be flushed.
//!
//! Fail-stop: when the journal fails while serving (a write or sync error), `/readyz` and
//! every write answer 503 at once and reads answer from the durable views; after
//! [`FAIL_STOP_GRACE`] the server stops as on SIGTERM (steps 1–2, where nothing waits on
//! the journal any more) and exits 75 for its supervisor to restart it.
//!
//! Recovery runs before the port is bound, so a client that can connect is served by a
//! recovered core (`/readyz` says so too).

use std::io;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use tracing::{info, warn};

use crate::blacklist::Blacklist;
use crate::config::{ConfigError, Settings, ThreadPolicy};
use crate::core::{Core, CoreError};
use crate::events::indexer::Indexer;
use crate::http::auth::TokenTable;
use crate::http::error::{ApiError, ErrorCode};
use crate::http::extract;
use crate::http::headers::ReplyHeaders;
use crate::http::request_id::RequestIdMiddleware;
use crate::scheduler::Scheduler;
use crate::storage::{JournalFailed, FAIL_STOP_GRACE, JOURNAL_FAILED_EXIT_CODE};
use crate::telemetry::Metrics;
use crate::webhooks::Webhooks;
use crate::{routes, ws};

/// Pending connections the kernel queues before accept: a flash sale opens with a burst.
const LISTEN_BACKLOG: u32 = 4096;

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("recovery failed: {0}")]
    Core(#[from] CoreError),
    #[error("cannot start the event indexer: {0}")]
    Indexer(io::Error),
    /// The webhook endpoints could not be read or their delivery could not start.
    #[error("{0}")]
    Webhooks(String),
    /// The blacklist could not be read.
    #[error("blacklist: {0}")]
    Blacklist(String),
    #[error("cannot listen on {address}: {source}")]
    Bind { address: String, source: io::Error },
    #[error("the HTTP server failed: {0}")]
    Server(io::Error),
    /// The journal failed while serving or could not be flushed at shutdown.
    #[error("{0}; exit code {JOURNAL_FAILED_EXIT_CODE}: restart the server")]
    JournalFailed(#[from] JournalFailed),
}

impl StartupError {
    /// The process's exit code: [`JOURNAL_FAILED_EXIT_CODE`] when the journal failed (a
    /// restart recovers), 1 otherwise (configuration, recovery refused, bind).
    pub fn exit_code(&self) -> u8 {
        match self {
            StartupError::JournalFailed(_) => JOURNAL_FAILED_EXIT_CODE,
            _ => 1,
        }
    }
}

/// Everything the handlers reach through `web::Data`; cloning clones `Arc`s.
#[derive(Clone)]
pub struct AppState {
    pub settings: web::Data<Settings>,
    pub core: web::Data<Arc<Core>>,
    pub metrics: web::Data<Metrics>,
    pub tokens: web::Data<TokenTable>,
    pub websockets: web::Data<ws::Websockets>,
    pub gray: web::Data<crate::gray::GrayMonitor>,
    pub scheduler: web::Data<Scheduler>,
    pub(crate) webhooks: web::Data<Arc<Webhooks>>,
    pub(crate) blacklist: web::Data<Arc<Blacklist>>,
    pub(crate) flow: web::Data<crate::flow::Flow>,
}

impl AppState {
    pub(crate) fn new(
        settings: Settings,
        core: Arc<Core>,
        metrics: Arc<Metrics>,
        webhooks: Arc<Webhooks>,
        blacklist: Arc<Blacklist>,
    ) -> Self {
        let tokens = TokenTable::from_settings(&settings.auth);
        let websockets = ws::Websockets::new(&settings.ws, &metrics);
        let scheduler = Scheduler::new(Arc::clone(&metrics));
        let flow = Arc::new(crate::flow::Flow::new(&settings.flow, &metrics));
        Self {
            settings: web::Data::new(settings),
            core: web::Data::new(core),
            metrics: web::Data::from(metrics),
            tokens: web::Data::new(tokens),
            websockets: web::Data::new(websockets),
            gray: web::Data::default(),
            scheduler: web::Data::new(scheduler),
            webhooks: web::Data::new(webhooks),
            blacklist: web::Data::new(blacklist),
            flow: web::Data::from(flow),
        }
    }

    /// Registers app data, extractor configs, every route and the 404 default service.
    pub fn register(&self, config: &mut web::ServiceConfig) {
        config
            .app_data(self.settings.clone())
            .app_data(self.core.clone())
            .app_data(self.metrics.clone())
            .app_data(self.tokens.clone())
            .app_data(self.websockets.clone())
            .app_data(self.gray.clone())
            .app_data(self.scheduler.clone())
            .app_data(self.webhooks.clone())
            .app_data(self.blacklist.clone())
            .app_data(self.flow.clone())
            .app_data(web::Data::new(ReplyHeaders {
                served_over_tls: self.settings.server.served_over_tls,
            }));
        extract::configure(config, self.settings.server.body_limit_bytes);
        routes::configure(config);
        config.default_service(web::to(route_not_found));
    }
}

/// The reply for a path no route serves: the 404 envelope, like every other error.
async fn route_not_found(request: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        ErrorCode::NotFound,
        format!("no route for {} {}", request.method(), request.path()),
    ))
}

/// A recovered core behind a bound, not yet running, HTTP server.
pub struct Application {
    port: u16,
    address: SocketAddr,
    server: Server,
    core: Arc<Core>,
    indexer: Indexer,
    websockets: web::Data<ws::Websockets>,
    scheduler: web::Data<Scheduler>,
    webhooks: Arc<Webhooks>,
}

impl Application {
    /// Recovers the core, then binds `server.bind` (port 0: a free port).
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        info!(layers = ?settings.layers, ?settings, "configuration loaded");
        if settings.auth.tokens.is_empty() {
            warn!("no auth tokens configured: the admin API refuses every request");
        }
        let metrics = Arc::new(Metrics::new());
        let core = Core::start(&settings, Arc::clone(&metrics)).await?;
        let indexer = Indexer::start(&core).map_err(StartupError::Indexer)?;
        let webhooks = Webhooks::start(&core.event_store, &settings.webhooks)
            .map_err(|error| StartupError::Webhooks(error.to_string()))?;
        let journal = core.runtime.journal().clone();
        webhooks
            .deliveries
            .yield_to_trading(move || journal.appended_seq());
        let now = playcore_actors::activity_actor::now_ms();
        let blacklist = Blacklist::open(&core.event_store, &metrics, now)
            .map_err(|error| StartupError::Blacklist(error.to_string()))?;
        let state = AppState::new(
            settings,
            Arc::clone(&core),
            metrics,
            Arc::clone(&webhooks),
            Arc::new(blacklist),
        );
        let websockets = state.websockets.clone();
        let scheduler = state.scheduler.clone();
        let shared_scheduler = scheduler.clone().into_inner();
        shared_scheduler.watch_deliveries(Arc::clone(&webhooks.deliveries));
        let flow = state.flow.clone().into_inner();
        shared_scheduler.watch_flow(Arc::clone(&flow));
        actix_web::rt::spawn(Arc::clone(&flow).housekeeping_task());
        Scheduler::start(shared_scheduler, Arc::clone(&core), &state.settings);
        crate::backup::spawn_backups(
            Arc::clone(&core),
            &state.settings,
            state.metrics.clone().into_inner(),
        );
        let (server, address) = bind(state)?;
        info!(%address, "listening");
        for id in core.demo_activities() {
            info!(activity = %id, "demo activity online: http://{address}/h5/activities/{id}");
        }
        Ok(Self {
            port: address.port(),
            address,
            server,
            core,
            indexer,
            websockets,
            scheduler,
            webhooks,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn core(&self) -> Arc<Core> {
        Arc::clone(&self.core)
    }

    /// Stops the server from elsewhere (tests): `handle.stop(true)` drains like SIGTERM.
    pub fn server_handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGTERM / Ctrl-C (or a stop through the handle, or the journal's
    /// failure), then shuts the core down; see the module doc for the protocol.
    pub async fn run_until_stopped(self) -> Result<(), StartupError> {
        let hub = Arc::clone(&self.websockets.hub);
        let signals = actix_web::rt::spawn(stop_on_signal(self.server.handle(), Arc::clone(&hub)));
        let failure = stop_on_journal_failure(self.server.handle(), hub, Arc::clone(&self.core));
        let failure = actix_web::rt::spawn(failure);
        let served = self.server.await;
        signals.abort();
        failure.abort();
        // Awaited, so the watcher's handle on the core (and through it the store, whose
        // lock a restart in the same process needs) is dropped before this returns.
        let _ = failure.await;
        info!("HTTP server stopped; shutting the core down");
        self.scheduler.stop();
        self.webhooks.shutdown();
        let flushed = self.core.shutdown().await;
        // After the journal stopped: the indexer takes its last entries and flushes.
        self.indexer.stop();
        served.map_err(StartupError::Server)?;
        flushed?;
        info!("shutdown complete");
        Ok(())
    }
}

/// Builds the HTTP server on the listening socket.
fn bind(state: AppState) -> Result<(Server, SocketAddr), StartupError> {
    let server_settings = state.settings.server.clone();
    let workers = match server_settings.workers {
        0 => std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
        workers => workers,
    };
    let shutdown_timeout = server_settings.shutdown_timeout_seconds;
    let server = HttpServer::new(move || {
        let state = state.clone();
        let cors = cors(&state.settings.server.cors_allowed_origins);
        App::new()
            .wrap(cors)
            .wrap(RequestIdMiddleware)
            .configure(move |config| state.register(config))
    })
    .on_connect(ws::remember_socket)
    .workers(workers)
    .backlog(LISTEN_BACKLOG)
    .shutdown_timeout(shutdown_timeout)
    // Signals are handled in `run_until_stopped`: actix treats Ctrl-C as a forced stop,
    // and the core must shut down after the drain either way.
    .disable_signals()
    .bind(&server_settings.bind)
    .map_err(|source| StartupError::Bind {
        address: server_settings.bind.clone(),
        source,
    })?;
    let address = server
        .addrs()
        .first()
        .copied()
        .ok_or_else(|| StartupError::Bind {
            address: server_settings.bind.clone(),
            source: io::Error::new(io::ErrorKind::AddrNotAvailable, "no address"),
        })?;
    Ok((server.run(), address))
}

/// Cross-origin access for the configured origins only (none by default): their
/// preflights are answered with what the API takes, any other origin's preflight is
/// refused (400), and replies to other origins carry no `Access-Control-Allow-Origin`.
fn cors(origins: &[String]) -> actix_cors::Cors {
    use actix_web::http::header::{HeaderName, ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
    use actix_web::http::Method;
    let request_id = HeaderName::from_static("x-request-id");
    let methods = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ];
    origins
        .iter()
        .fold(actix_cors::Cors::default(), |cors, origin| {
            cors.allowed_origin(origin)
        })
        .allowed_methods(methods)
        .allowed_headers([AUTHORIZATION, CONTENT_TYPE, ACCEPT, request_id.clone()])
        .expose_headers([request_id, RETRY_AFTER])
        .max_age(600)
}

/// Waits for SIGTERM or Ctrl-C, then closes the websockets (they would otherwise hold the
/// drain for its whole timeout) and asks the server to stop gracefully.
async fn stop_on_signal(handle: ServerHandle, hub: Arc<ws::hub::Hub>) {
    let signal = wait_for_signal().await;
    info!(
        signal,
        "shutdown signal received; draining in-flight requests"
    );
    hub.close();
    handle.stop(true).await;
}

/// Fail-stop: once the journal fails, keeps answering for [`FAIL_STOP_GRACE`] (readiness
/// and writes 503, reads from the durable views), then stops the server like a signal.
async fn stop_on_journal_failure(handle: ServerHandle, hub: Arc<ws::hub::Hub>, core: Arc<Core>) {
    let reason = core.runtime.journal().failed().await;
    tracing::error!(
        %reason,
        exit_code = JOURNAL_FAILED_EXIT_CODE,
        "the journal failed: writes and /readyz answer 503, reads answer the durable state; \
         the server answers what is in flight, then exits for its supervisor to restart it"
    );
    actix_web::rt::time::sleep(FAIL_STOP_GRACE).await;
    hub.close();
    handle.stop(true).await;
}

/// Returns the name of the signal received.
#[cfg(unix)]
async fn wait_for_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = match signal(SignalKind::terminate()) {
        Ok(terminate) => terminate,
        Err(error) => {
            warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops the server");
            return wait_for_ctrl_c().await;
        }
    };
    tokio::select! {
        name = wait_for_ctrl_c() => name,
        Some(()) = terminate.recv() => "SIGTERM",
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() -> &'static str {
    wait_for_ctrl_c().await
}

async fn wait_for_ctrl_c() -> &'static str {
    if let Err(error) = tokio::signal::ctrl_c().await {
        // Never treat a failed registration as a signal: that would stop the server.
        warn!(%error, "cannot listen for Ctrl-C");
        std::future::pending::<()>().await;
    }
    "SIGINT"
}

/// Runs the server on the current thread's actix system until it is stopped.
pub fn serve(settings: Settings) -> Result<(), StartupError> {
    let policy = settings.server.thread_policy;
    if let Err(error) = apply_thread_policy(policy) {
        warn!(%error, ?policy, "the thread scheduling policy stays the system's default");
    }
    let system = actix_web::rt::System::new();
    system.block_on(async move {
        let application = Application::build(settings).await?;
        application.run_until_stopped().await
    })
}

/// Puts the calling thread under `policy`; the threads it starts afterwards inherit it, so
/// called before the actix system starts any, it covers every thread of the server (HTTP
/// workers, arbiters, the journal's threads). No-op off Linux.
pub fn apply_thread_policy(policy: ThreadPolicy) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        let number = match policy {
            ThreadPolicy::Batch => libc::SCHED_BATCH,
            ThreadPolicy::Normal => libc::SCHED_OTHER,
        };
        let parameters = libc::sched_param { sched_priority: 0 };
        // SAFETY: pid 0 names the calling thread; `parameters` outlives the call.
        if unsafe { libc::sched_setscheduler(0, number, &parameters) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = policy;
    Ok(())
}
