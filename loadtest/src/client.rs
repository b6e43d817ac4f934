//! Keep-alive HTTP/1.1 connections, one per concurrent worker.
//!
//! hyper's connection-level client rather than a pooled one: each worker owns its
//! connection, so there is no pool lock on the path and a request never waits behind
//! another worker's. The worker also drives the connection itself, in the same task as its
//! request, instead of a task of its own: a request and its answer then cost no wake-up of
//! another task (the harness shares the machine's two cores with the server it measures).
//! A failed connection is reopened by its worker.

use bytes::Bytes;
use futures_util::FutureExt;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, handshake, SendRequest};
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;
use tokio::net::TcpStream;

/// Why a request got no HTTP answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("bad url {url}: {reason}")]
    Url { url: String, reason: String },
    #[error("connecting to {address}: {source}")]
    Connect {
        address: String,
        source: std::io::Error,
    },
    #[error("http: {0}")]
    Http(#[from] hyper::Error),
    #[error("building a request: {0}")]
    Request(#[from] hyper::http::Error),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("the connection closed before the answer was complete")]
    Closed,
}

/// Where requests go: a loopback `http://HOST:PORT`.
#[derive(Clone, Debug)]
pub struct Target {
    pub url: String,
    pub address: SocketAddr,
    host: HeaderValue,
}

impl Target {
    /// Parses `http://HOST:PORT` (a trailing slash is allowed). Only loopback addresses
    /// are accepted: load tests never leave the machine.
    pub async fn parse(url: &str) -> Result<Target, ClientError> {
        let invalid = |reason: &str| ClientError::Url {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let authority = url
            .strip_prefix("http://")
            .ok_or_else(|| invalid("only http:// is supported"))?
            .trim_end_matches('/');
        let address = tokio::net::lookup_host(authority)
            .await
            .map_err(|error| invalid(&error.to_string()))?
            .find(|address| address.ip().is_loopback())
            .ok_or_else(|| invalid("the harness only targets loopback addresses"))?;
        let host = HeaderValue::from_str(authority).map_err(|_| invalid("bad host"))?;
        Ok(Target {
            url: format!("http://{authority}"),
            address,
            host,
        })
    }
}

/// One request to send.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: Method,
    pub path: String,
    pub body: Option<Bytes>,
    /// `Authorization: Bearer …`
    pub token: Option<String>,
    /// Extra header (name, value), e.g. the payment signature.
    pub header: Option<(&'static str, String)>,
}

impl Call {
    pub fn get(path: impl Into<String>) -> Call {
        Call {
            method: Method::GET,
            path: path.into(),
            body: None,
            token: None,
            header: None,
        }
    }

    pub fn post(path: impl Into<String>, body: impl Into<Bytes>) -> Call {
        Call {
            method: Method::POST,
            body: Some(body.into()),
            ..Call::get(path)
        }
    }

    pub fn put(path: impl Into<String>, body: impl Into<Bytes>) -> Call {
        Call {
            method: Method::PUT,
            ..Call::post(path, body)
        }
    }

    pub fn with_token(mut self, token: &str) -> Call {
        self.token = Some(token.to_owned());
        self
    }
}

/// An HTTP answer: status and whole body.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Bytes,
}

/// A keep-alive connection to one target.
pub struct Connection {
    target: Target,
    dialed: Option<Dialed>,
    timeout: Duration,
}

/// An open connection: the handle requests go through, and hyper's connection state,
/// which the request's own task polls.
struct Dialed {
    sender: SendRequest<Full<Bytes>>,
    driver: Pin<Box<http1::Connection<TokioIo<TcpStream>, Full<Bytes>>>>,
    /// The connection has ended (the server closed it): the next call dials anew.
    ended: bool,
}

impl Connection {
    /// A connection that dials on first use.
    pub fn new(target: Target, timeout: Duration) -> Connection {
        Connection {
            target,
            dialed: None,
            timeout,
        }
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    async fn dial(&self) -> Result<Dialed, ClientError> {
        let stream = TcpStream::connect(self.target.address)
            .await
            .map_err(|source| ClientError::Connect {
                address: self.target.address.to_string(),
                source,
            })?;
        stream.set_nodelay(true).ok();
        let (sender, driver) = handshake(TokioIo::new(stream)).await?;
        Ok(Dialed {
            sender,
            driver: Box::pin(driver),
            ended: false,
        })
    }

    /// Dials now and sends one `GET /healthz`, so a phase's clock starts on warm
    /// connections (the first request on a new connection is slow on both sides). A
    /// failure is left for the first real call to meet (and redial).
    pub async fn warm_up(&mut self) {
        let _ = self.send(&Call::get("/healthz")).await;
    }

    /// Sends `call` and reads the whole answer. On any failure the connection is dropped,
    /// and the next call dials anew.
    pub async fn send(&mut self, call: &Call) -> Result<Answer, ClientError> {
        let outcome = tokio::time::timeout(self.timeout, self.exchange(call)).await;
        let result = match outcome {
            Ok(result) => result,
            Err(_) => Err(ClientError::Timeout(self.timeout)),
        };
        if result.is_err() {
            self.dialed = None;
        }
        result
    }

    async fn exchange(&mut self, call: &Call) -> Result<Answer, ClientError> {
        let request = self.request(call)?;
        let dialed = match self.dialed.take() {
            Some(dialed) if !dialed.ended && !dialed.sender.is_closed() => {
                self.dialed.insert(dialed)
            }
            _ => self.dialed.insert(self.dial().await?),
        };
        dialed.round_trip(request).await
    }

    fn request(&self, call: &Call) -> Result<Request<Full<Bytes>>, ClientError> {
        let mut builder = Request::builder()
            .method(call.method.clone())
            .uri(call.path.as_str())
            .header(HOST, self.target.host.clone());
        if call.body.is_some() {
            builder = builder.header(CONTENT_TYPE, "application/json");
        }
        if let Some(token) = &call.token {
            builder = builder.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some((name, value)) = &call.header {
            builder = builder.header(*name, value.as_str());
        }
        let body = call.body.clone().unwrap_or_default();
        Ok(builder.body(Full::new(body))?)
    }
}

impl Dialed {
    /// Sends `request` and reads its whole answer, polling the connection meanwhile.
    async fn round_trip(&mut self, request: Request<Full<Bytes>>) -> Result<Answer, ClientError> {
        let Dialed {
            sender,
            driver,
            ended,
        } = self;
        let answer = async {
            sender.ready().await?;
            let response = sender.send_request(request).await?;
            let status = response.status().as_u16();
            let body = response.into_body().collect().await?.to_bytes();
            Ok(Answer { status, body })
        };
        tokio::pin!(answer);
        tokio::select! {
            biased;
            answer = &mut answer => answer,
            outcome = driver.as_mut() => {
                // The server closed the connection (or it failed): an answer it finished
                // before closing is complete now; anything else is lost with it.
                *ended = true;
                match answer.now_or_never() {
                    Some(answer) => answer,
                    None => Err(outcome.err().map_or(ClientError::Closed, ClientError::Http)),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A server that reads one request per connection, sends `reply` (if any) and closes.
    async fn one_shot_server(reply: Option<&'static str>) -> (Target, tokio::task::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let server = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut request = [0u8; 1024];
                let _ = stream.read(&mut request).await;
                if let Some(reply) = reply {
                    let _ = stream.write_all(reply.as_bytes()).await;
                }
                let _ = stream.shutdown().await;
            }
        });
        let target = Target::parse(&format!("http://{address}"))
            .await
            .expect("target");
        (target, server)
    }

    #[tokio::test]
    async fn an_answer_sent_before_the_server_closes_arrives_and_the_next_call_redials() {
        let reply = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
        let (target, server) = one_shot_server(Some(reply)).await;
        let mut connection = Connection::new(target, Duration::from_secs(5));
        for _ in 0..3 {
            let answer = connection.send(&Call::get("/")).await.expect("answer");
            assert_eq!(answer.status, 200);
            assert_eq!(&answer.body[..], b"ok");
        }
        server.abort();
    }

    #[tokio::test]
    async fn a_connection_closed_without_an_answer_is_an_error_and_the_next_call_redials() {
        let (target, server) = one_shot_server(None).await;
        let mut connection = Connection::new(target, Duration::from_secs(5));
        for _ in 0..2 {
            let outcome = connection.send(&Call::get("/")).await;
            assert!(
                matches!(outcome, Err(ClientError::Http(_) | ClientError::Closed)),
                "{outcome:?}"
            );
        }
        server.abort();
    }
}
