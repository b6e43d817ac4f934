//! `playcore-ceiling`: the best this machine can do on playcore's HTTP stack.
//!
//! A load test of playcore's grab endpoint gives a number of requests per second; on its
//! own that number says little. This server answers the same route
//! (`POST /api/v1/activities/{id}/orders`) on the same stack (actix-web 4, the same
//! worker count, the same listen backlog, the same thread scheduling policy) with the
//! least work a grab can possibly do:
//! one round trip to one actix actor living on its own arbiter, as playcore's activity
//! actors do. There is no journal, no JSON parsing, no authentication, no middleware and
//! no per-request logging, so whatever playcore loses against this server is the price of
//! its own work, and whatever this server cannot do, no handler on this stack could.
//!
//! Run it next to playcore and point the same harness (or wrk script) at both:
//!
//! ```text
//! playcore-ceiling --bind 127.0.0.1:8090 --workers 0
//! curl -s -XPOST localhost:8090/api/v1/activities/1/orders -d '{}'
//! ```

use std::io;
use std::num::NonZeroUsize;

use actix::{Actor, Addr, Arbiter, Context, Handler, Message};
use actix_web::http::header::ContentType;
use actix_web::{web, App, HttpResponse, HttpServer};
use clap::{Parser, ValueEnum};

/// The same allocator as playcore's, so the ceiling is the best this stack can do.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Pending connections the kernel queues before accept; the same as playcore's, so a
/// burst of new connections meets the same queue on both servers.
const LISTEN_BACKLOG: u32 = 4096;

/// Command line of the ceiling server.
#[derive(Debug, Parser)]
#[command(
    name = "playcore-ceiling",
    about = "One actor round trip per request on playcore's HTTP stack: the ceiling to compare playcore's grab against."
)]
struct Options {
    /// Address to listen on, HOST:PORT.
    #[arg(long, default_value = "127.0.0.1:8090")]
    bind: String,

    /// HTTP worker threads; 0 = one per core, as playcore does.
    #[arg(long, default_value_t = 0)]
    workers: usize,

    /// Linux scheduling policy of every thread; `batch` is playcore's default
    /// (`server.thread_policy`), so both run under the same one.
    #[arg(long, value_enum, default_value_t = ThreadPolicy::Batch)]
    thread_policy: ThreadPolicy,
}

/// The scheduling policies of playcore's `server.thread_policy`.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum ThreadPolicy {
    /// `SCHED_BATCH`: a woken thread does not preempt the running one.
    Batch,
    /// `SCHED_OTHER`: the kernel's default.
    Normal,
}

/// Puts this thread, and every thread it starts afterwards, under `policy`. The same as
/// playcore's `startup::apply_thread_policy`, copied: this crate talks to the server over
/// HTTP only and depends on none of its crates, so it measures HTTP and nothing of playcore.
fn apply_thread_policy(policy: ThreadPolicy) -> io::Result<()> {
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

/// Asks the counter for the next number.
#[derive(Message)]
#[rtype(result = "u64")]
struct Take;

/// The one actor: it hands out consecutive numbers, standing in for an activity actor
/// that decides a grab.
#[derive(Default)]
struct Counter {
    /// Numbers handed out so far; the last one handed out.
    taken: u64,
}

impl Actor for Counter {
    type Context = Context<Self>;
}

impl Handler<Take> for Counter {
    type Result = u64;

    fn handle(&mut self, _message: Take, _context: &mut Context<Self>) -> u64 {
        self.taken += 1;
        self.taken
    }
}

/// The grab stand-in: receives the body without looking at it, makes one actor round
/// trip and answers 201 with a reply of the shape and size of playcore's (the same
/// envelope and order fields, fixed values but the order number), so that a client
/// reads and parses as much from either server.
async fn grab(counter: web::Data<Addr<Counter>>, _body: web::Bytes) -> HttpResponse {
    match counter.send(Take).await {
        Ok(number) => HttpResponse::Created()
            .content_type(ContentType::json())
            .body(format!(
                concat!(
                    r#"{{"success":true,"data":{{"orderId":"ord-1-{}","activityId":"1","#,
                    r#""userId":"ceiling-user","quantity":1,"amount":990,"status":"PENDING_PAY","#,
                    r#""createdAt":"2026-01-01T00:00:00.000Z","expiresAt":"2026-01-01T01:00:00.000Z"}},"#,
                    r#""requestId":"0000000000000000","timestamp":"2026-01-01T00:00:00.000Z"}}"#
                ),
                number
            )),
        // Only when the arbiter is gone, i.e. while the process shuts down.
        Err(_) => HttpResponse::ServiceUnavailable().finish(),
    }
}

/// Liveness probe for the harness.
async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::plaintext())
        .body("ok")
}

/// Everything that is not one of the two routes, wrong method included.
async fn not_found() -> HttpResponse {
    HttpResponse::NotFound().finish()
}

/// The worker count to use: the one asked for, or one per core for 0.
fn worker_count(requested: usize) -> usize {
    match requested {
        0 => std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
        workers => workers,
    }
}

#[actix_web::main]
async fn main() -> io::Result<()> {
    let options = Options::parse();
    // Before the arbiter and the workers start, so that they inherit it.
    if let Err(error) = apply_thread_policy(options.thread_policy) {
        eprintln!("the scheduling policy stays the system's default: {error}");
    }
    let workers = worker_count(options.workers);
    // The actor gets its own thread, apart from the HTTP workers, as in playcore.
    let arbiter = Arbiter::new();
    let counter = web::Data::new(Counter::start_in_arbiter(&arbiter.handle(), |_| {
        Counter::default()
    }));
    let server = HttpServer::new(move || {
        App::new()
            .app_data(counter.clone())
            .service(
                web::resource("/api/v1/activities/{id}/orders")
                    .route(web::post().to(grab))
                    .default_service(web::to(not_found)),
            )
            .service(
                web::resource("/healthz")
                    .route(web::get().to(healthz))
                    .default_service(web::to(not_found)),
            )
            .default_service(web::to(not_found))
    })
    .workers(workers)
    .backlog(LISTEN_BACKLOG)
    .bind(&options.bind)?;
    let addresses: Vec<String> = server
        .addrs()
        .iter()
        .map(|address| format!("http://{address}"))
        .collect();
    println!(
        "ceiling server listening on {} ({workers} workers)",
        addresses.join(", ")
    );
    let served = server.run().await;
    arbiter.stop();
    served
}
