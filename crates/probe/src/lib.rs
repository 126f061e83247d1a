//! `probe <url>`: one HTTP/1.1 GET, success when the answer is 2xx within the
//! timeout. It exists because the platform's images carry only the service
//! binary (no shell, no curl), and a container runtime's healthcheck runs a
//! command inside the container: Compose runs `/bin/probe
//! http://127.0.0.1:<port>/readyz`.
//!
//! Plain `http://` only: the services listen in cleartext behind the edge, and
//! a probe reaches its own container over loopback.

use std::time::Duration;

use http_body_util::Empty;
use hyper::{Request, body::Bytes};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// How long a probe may take in all (connect, request, status line).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

/// Why a probe failed; the message is what the healthcheck log shows.
#[derive(Debug, PartialEq, Eq)]
pub struct Failure(pub String);

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// GETs `url` and returns its status when it is 2xx.
pub async fn probe(url: &str, timeout: Duration) -> Result<u16, Failure> {
    let parsed = url::Url::parse(url).map_err(|e| Failure(format!("{url:?} is not a URL: {e}")))?;
    if parsed.scheme() != "http" {
        return Err(Failure(format!("{url}: only http:// URLs are probed (the service's own port, in cleartext)")));
    }
    let host = parsed.host_str().ok_or_else(|| Failure(format!("{url}: no host")))?.to_owned();
    let port = parsed.port_or_known_default().unwrap_or(80);
    let authority = match parsed.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.clone(),
    };
    let target = match parsed.query() {
        Some(query) => format!("{}?{query}", parsed.path()),
        None => parsed.path().to_owned(),
    };
    let exchange = async {
        let stream = TcpStream::connect((host.trim_matches(['[', ']']), port))
            .await
            .map_err(|e| Failure(format!("{url}: cannot connect: {e}")))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| Failure(format!("{url}: HTTP handshake failed: {e}")))?;
        tokio::spawn(connection);
        let request = Request::get(target)
            .header(hyper::header::HOST, authority)
            .header(hyper::header::USER_AGENT, "platform-probe")
            .body(Empty::<Bytes>::new())
            .map_err(|e| Failure(format!("{url}: {e}")))?;
        let response = sender.send_request(request).await.map_err(|e| Failure(format!("{url}: {e}")))?;
        Ok::<_, Failure>(response.status())
    };
    let status = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| Failure(format!("{url}: no answer within {timeout:?}")))??;
    if status.is_success() { Ok(status.as_u16()) } else { Err(Failure(format!("{url}: answered {status}"))) }
}
