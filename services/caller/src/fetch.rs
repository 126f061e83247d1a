//! Outbound HTTP under the destination [`crate::guard::Policy`].
//!
//! reqwest is given a resolver that refuses a name if any address it
//! resolves to is refused, and it connects only to the addresses that
//! resolver returned; IP-literal URLs (which skip resolution) and every
//! redirect hop are checked explicitly. Connect and total timeouts bound the
//! time, and the body is counted as it streams and abandoned past the cap,
//! so no single target can hold the service's resources.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::{Duration, Instant},
};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

use crate::{
    config::FetchConfig,
    guard::{Policy, Refused},
};

/// Longest URL accepted.
pub const MAX_URL_LEN: usize = 2048;
/// Redirects followed before giving up.
pub const MAX_REDIRECTS: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Head => "HEAD",
        }
    }
}

/// A request that passed validation.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: Url,
    pub method: Method,
}

impl Target {
    /// Validates a URL and method as a client sent them.
    pub fn parse(url: &str, method: &str) -> Result<Self, String> {
        let url = url.trim();
        if url.is_empty() {
            return Err("url is required".into());
        }
        if url.len() > MAX_URL_LEN {
            return Err(format!("url is {} characters; at most {MAX_URL_LEN} are allowed", url.len()));
        }
        let parsed = Url::parse(url).map_err(|e| format!("url is not a valid URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!("url scheme {:?} is not allowed; use http or https", parsed.scheme()));
        }
        if parsed.host().is_none() {
            return Err("url has no host".into());
        }
        let method = match method.trim().to_ascii_uppercase().as_str() {
            "" | "GET" => Method::Get,
            "HEAD" => Method::Head,
            other => return Err(format!("method {other:?} is not allowed; use GET or HEAD")),
        };
        Ok(Self { url: parsed, method })
    }

    /// The URL with any password removed, for storage and logs.
    /// The URL as it is recorded and logged: no credentials, query or fragment.
    pub fn display_url(&self) -> String {
        platform::redact::parsed(&self.url)
    }
}

/// What came of a call that was attempted.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub status_code: Option<u16>,
    pub content_type: Option<String>,
    pub content_length: u64,
    pub error: Option<String>,
    pub duration: Duration,
}

#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    policy: Arc<Policy>,
    config: FetchConfig,
}

impl Fetcher {
    pub fn new(config: FetchConfig) -> anyhow::Result<Self> {
        let policy = Arc::new(Policy::new(config.allowed_networks.clone()));
        let hop_policy = policy.clone();
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver { policy: policy.clone() }))
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() > MAX_REDIRECTS {
                    return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
                }
                if !matches!(attempt.url().scheme(), "http" | "https") {
                    let msg = format!("redirect to a {:?} URL refused", attempt.url().scheme());
                    return attempt.error(msg);
                }
                match ip_literal(attempt.url()).map(|ip| hop_policy.check(ip)) {
                    Some(Err(refused)) => attempt.error(refused),
                    _ => attempt.follow(),
                }
            }))
            // Proxies from the environment would connect on our behalf,
            // past the checks above.
            .no_proxy()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .user_agent(concat!("platform-caller/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client, policy, config })
    }

    /// Makes the call. `Err` means it was refused before any connection.
    pub async fn fetch(&self, target: &Target) -> Result<Outcome, (Refused, Duration)> {
        let start = Instant::now();
        if let Some(ip) = ip_literal(&target.url) {
            self.policy.check(ip).map_err(|r| (r, start.elapsed()))?;
        }
        let method = match target.method {
            Method::Get => reqwest::Method::GET,
            Method::Head => reqwest::Method::HEAD,
        };
        let mut response = match self.client.request(method, target.url.clone()).send().await {
            Ok(r) => r,
            Err(e) => {
                if let Some(refused) = find_refusal(&e) {
                    return Err((refused, start.elapsed()));
                }
                return Ok(Outcome { error: Some(self.describe(&e)), duration: start.elapsed(), ..Outcome::default() });
            }
        };
        let mut outcome = Outcome {
            status_code: Some(response.status().as_u16()),
            content_type: response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            ..Outcome::default()
        };
        let cap = self.config.max_body_bytes;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    outcome.content_length += chunk.len() as u64;
                    if outcome.content_length > cap {
                        outcome.error = Some(format!("response body exceeds {cap} bytes; stopped reading"));
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    outcome.error = Some(format!("reading the response body failed: {}", self.describe(&e)));
                    break;
                }
            }
        }
        outcome.duration = start.elapsed();
        Ok(outcome)
    }

    fn describe(&self, e: &reqwest::Error) -> String {
        if e.is_timeout() {
            return format!("timed out after {} ms", self.config.request_timeout.as_millis());
        }
        let mut msg = if e.is_connect() { "connection failed".to_owned() } else { "request failed".to_owned() };
        let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
        while let Some(s) = source {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            source = s.source();
        }
        msg
    }
}

fn ip_literal(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        Host::Ipv4(a) => Some(IpAddr::V4(a)),
        Host::Ipv6(a) => Some(IpAddr::V6(a)),
        Host::Domain(_) => None,
    }
}

fn find_refusal(e: &reqwest::Error) -> Option<Refused> {
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(r) = s.downcast_ref::<Refused>() {
            return Some(r.clone());
        }
        source = s.source();
    }
    None
}

/// Resolves names with the system resolver and refuses the name if any of
/// its addresses is refused (a name mixing public and internal addresses is
/// a classic way around per-connection checks).
struct GuardedResolver {
    policy: Arc<Policy>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            for addr in &addrs {
                policy.check(addr.ip())?;
            }
            if addrs.is_empty() {
                return Err(format!("{} resolved to no addresses", name.as_str()).into());
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_urls_and_methods() {
        assert!(Target::parse("https://example.com/x", "").is_ok());
        assert_eq!(Target::parse("http://a.b", "head").unwrap().method, Method::Head);
        for (url, method, needle) in [
            ("", "", "required"),
            ("ftp://example.com", "", "scheme"),
            ("file:///etc/passwd", "", "scheme"),
            ("not a url", "", "not a valid URL"),
            ("https://example.com", "POST", "method"),
        ] {
            let err = Target::parse(url, method).unwrap_err();
            assert!(err.contains(needle), "{url} {method}: {err}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        assert!(Target::parse(&long, "").unwrap_err().contains("2048"));
    }

    #[test]
    fn display_url_hides_passwords() {
        let t = Target::parse("https://user:hunter2@example.com/p?sig=s3cret", "").unwrap();
        assert_eq!(t.display_url(), "https://example.com/p");
    }
}
