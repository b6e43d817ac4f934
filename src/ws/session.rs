//! One websocket connection after the upgrade: a task that writes the frames its mailbox
//! holds (the first frame, and any the fan-out could not write directly because the
//! connection's outgoing channel was full), answers pings, pings the client every
//! `heartbeat_interval` and closes it when it has been silent for `client_timeout`, and
//! closes cleanly (1001 Going Away) when the server shuts down. A client that keeps up
//! gets its pushes written by the fan-out task directly (see `hub::Mailbox`), so this
//! task is not woken per push.
//!
//! Writing can block (a client that does not read fills the socket and actix's buffers);
//! while it does, the task also waits for its mailbox to be ended by the hub, so a slow
//! client is dropped even mid-write, and nobody else waits for it.

use super::frame::Frame;
use super::hub::{End, Mailbox, Permit, Subscription};
use actix_ws::{CloseCode, CloseReason, Closed, Message, MessageStream, ProtocolError, Session};
use std::future::Future;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};

/// Largest frame a client may send: clients only send pings, pongs and close frames.
pub const CLIENT_FRAME_BYTES_MAX: usize = 4096;
/// How long queueing a close frame may take before the connection is simply dropped (a
/// client that does not read would otherwise hold the close forever).
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// The heartbeat of one connection.
#[derive(Clone, Copy, Debug)]
pub struct SessionOptions {
    /// At most one frame per interval to this client, also right after the first frame
    /// (the topic's ticks do not know when this client connected).
    pub push_interval: Duration,
    pub heartbeat_interval: Duration,
    pub client_timeout: Duration,
}

/// What the loop does next.
enum Step {
    Continue,
    /// Send a close frame, then end.
    Close(Option<CloseReason>),
    /// End without a close frame (the client is gone or cannot read one).
    Drop,
}

fn reason(code: CloseCode, description: &str) -> Option<CloseReason> {
    Some(CloseReason {
        code,
        description: Some(description.to_owned()),
    })
}

/// Serves one connection until it ends; the subscription and the permit are released
/// when it returns.
pub async fn run(
    mut session: Session,
    mut stream: MessageStream,
    subscription: Subscription,
    _permit: Permit,
    options: SessionOptions,
    mut closing: watch::Receiver<bool>,
) {
    let mailbox = &subscription.mailbox;
    let mut heartbeat = tokio::time::interval_at(
        Instant::now() + options.heartbeat_interval,
        options.heartbeat_interval,
    );
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_heard_at = Instant::now();
    // Frames this task writes are paced here; the fan-out's direct writes by its ticks.
    let mut next_write_at: Option<Instant> = None;
    let last = loop {
        let step = tokio::select! {
            biased;
            _ = closing.wait_for(|closing| *closing) => {
                Step::Close(reason(CloseCode::Away, "server shutting down"))
            }
            message = stream.recv() => {
                last_heard_at = Instant::now();
                answer(message, &mut session, mailbox).await
            }
            next = next_frame(mailbox, next_write_at) => match next {
                Ok(frame) => {
                    let step = write(session.text(frame.text), mailbox).await;
                    let next_at = Instant::now() + options.push_interval;
                    next_write_at = Some(next_at);
                    mailbox.written(next_at);
                    step
                }
                Err(End::Slow) => Step::Drop,
                Err(End::SourceGone) => Step::Close(reason(CloseCode::Away, "gone")),
            },
            _ = heartbeat.tick() => {
                if last_heard_at.elapsed() >= options.client_timeout {
                    Step::Close(reason(CloseCode::Policy, "no pong"))
                } else {
                    write(session.ping(b""), mailbox).await
                }
            }
        };
        match step {
            Step::Continue => continue,
            other => break other,
        }
    };
    if let Step::Close(reason) = last {
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, session.close(reason)).await;
    }
}

/// The next frame, not before `not_before` when given (cancel-safe: the frame stays in the mailbox,
/// where newer ones replace it, until this returns).
async fn next_frame(mailbox: &Mailbox, not_before: Option<Instant>) -> Result<Frame, End> {
    if let Some(not_before) = not_before.filter(|at| Instant::now() < *at) {
        tokio::time::sleep_until(not_before).await;
    }
    mailbox.next().await
}

/// Handles what the client sent.
async fn answer(
    message: Option<Result<Message, ProtocolError>>,
    session: &mut Session,
    mailbox: &Mailbox,
) -> Step {
    match message {
        None => Step::Drop,
        Some(Err(_)) => Step::Close(reason(CloseCode::Protocol, "protocol error")),
        Some(Ok(Message::Ping(bytes))) => write(session.pong(&bytes), mailbox).await,
        // The close handshake: answer with the client's own code.
        Some(Ok(Message::Close(reason))) => Step::Close(reason),
        // Pongs only prove the client is alive; anything else it says is ignored.
        Some(Ok(_)) => Step::Continue,
    }
}

/// Waits for one write; gives up when the hub finds the client slow meanwhile.
async fn write(sending: impl Future<Output = Result<(), Closed>>, mailbox: &Mailbox) -> Step {
    tokio::select! {
        sent = sending => match sent {
            Ok(()) => Step::Continue,
            Err(Closed) => Step::Drop,
        },
        () = mailbox.slow() => Step::Drop,
    }
}
