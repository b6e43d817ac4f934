//! A webhook receiver for the tests: a real HTTP/1.1 server on a loopback port (one thread
//! per connection, keep-alive) that records every request — path, headers, raw body, time
//! of arrival, in arrival order — before it answers as the test's behaviour decides: a
//! status, a status after a delay (past the sender's timeout), or a dropped connection.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Largest request body read (a webhook body is a few KiB).
const BODY_BYTES_MAX: usize = 1024 * 1024;
/// Requests recorded at most; past it the receiver answers 507 and records nothing.
const RECEIVED_MAX: usize = 1_000_000;

/// How the receiver answers one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Status(u16),
    /// Waits, then answers with the status (if the sender is still there).
    Delayed(Duration, u16),
    /// Closes the connection without an answer.
    Drop,
}

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    /// Arrival order, from 0.
    pub number: u64,
    pub at: Instant,
    pub path: String,
    /// Header names in lower case.
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

type Behaviour = dyn Fn(&Received) -> Answer + Send + Sync;

struct Shared {
    received: Mutex<Vec<Received>>,
    next_number: AtomicU64,
    stopped: AtomicBool,
    behaviour: Box<Behaviour>,
}

/// A running receiver; stops when dropped.
pub struct Receiver {
    pub port: u16,
    shared: Arc<Shared>,
}

impl Receiver {
    /// Starts a receiver on a free loopback port; `behaviour` decides each answer.
    pub fn start(behaviour: impl Fn(&Received) -> Answer + Send + Sync + 'static) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the receiver");
        let port = listener.local_addr().expect("its address").port();
        let shared = Arc::new(Shared {
            received: Mutex::new(Vec::new()),
            next_number: AtomicU64::new(0),
            stopped: AtomicBool::new(false),
            behaviour: Box::new(behaviour),
        });
        let accepting = Arc::clone(&shared);
        thread::spawn(move || accept(listener, accepting));
        Receiver { port, shared }
    }

    /// A receiver that answers 200 to everything.
    pub fn always_ok() -> Receiver {
        Receiver::start(|_| Answer::Status(200))
    }

    /// `http://127.0.0.1:PORT{path}`
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Every request so far, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().expect("the record").clone()
    }

    /// Requests to `path` so far, in arrival order.
    pub fn received_at(&self, path: &str) -> Vec<Received> {
        let all = self.shared.received.lock().expect("the record");
        all.iter()
            .filter(|request| request.path == path)
            .cloned()
            .collect()
    }

    /// Waits until `count` requests to `path` arrived; false after `timeout`.
    pub fn wait_for(&self, path: &str, count: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.received_at(path).len() >= count {
                return true;
            }
            thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        // Wakes the accepting thread so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn accept(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stopped.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let serving = Arc::clone(&shared);
        thread::spawn(move || serve(stream, serving));
    }
}

/// Serves one connection's requests until it closes or an answer drops it.
fn serve(stream: TcpStream, shared: Arc<Shared>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    while let Some((path, headers, body)) = read_request(&mut reader) {
        if shared.stopped.load(Ordering::SeqCst) {
            return;
        }
        let request = Received {
            number: shared.next_number.fetch_add(1, Ordering::SeqCst),
            at: Instant::now(),
            path,
            headers,
            body,
        };
        let answer = record(&shared, &request);
        let status = match answer {
            Answer::Status(status) => status,
            Answer::Delayed(delay, status) => {
                thread::sleep(delay);
                status
            }
            Answer::Drop => {
                let _ = writer.shutdown(Shutdown::Both);
                return;
            }
        };
        let reply = format!("HTTP/1.1 {status} X\r\ncontent-length: 2\r\n\r\nok");
        if writer.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

fn record(shared: &Shared, request: &Received) -> Answer {
    {
        let mut received = shared.received.lock().expect("the record");
        if received.len() >= RECEIVED_MAX {
            return Answer::Status(507);
        }
        received.push(request.clone());
    }
    (shared.behaviour)(request)
}

/// One request: path, headers (lower-case names), body; `None` at the end of the stream.
fn read_request(
    reader: &mut BufReader<TcpStream>,
) -> Option<(String, HashMap<String, String>, String)> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let path = line.split_whitespace().nth(1)?.to_owned();
    let mut headers = HashMap::new();
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        let (name, value) = trimmed.split_once(':')?;
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|value| value.parse().ok())
        .unwrap_or(0);
    if length > BODY_BYTES_MAX {
        return None;
    }
    let mut body = vec![0_u8; length];
    reader.read_exact(&mut body).ok()?;
    Some((path, headers, String::from_utf8_lossy(&body).into_owned()))
}
