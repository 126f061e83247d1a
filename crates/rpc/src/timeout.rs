//! The client's deadline (`grpc-timeout`), enforced around the handler.

use std::{
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use axum::body::Body;
use http::{HeaderMap, Request, Response};
use tower::{Layer, Service};

/// Enforces the client's deadline (`grpc-timeout`, which the Connect
/// adapter also sets from `connect-timeout-ms`): a call still running when
/// it expires is cancelled and answered `DEADLINE_EXCEEDED`. tonic reads
/// the request body inside the handler's future, so the deadline covers
/// reading it too; a streaming answer still going at the deadline ends
/// there, with `DEADLINE_EXCEEDED` in its trailers, and the handler's stream
/// is dropped. tonic's own transport does this, but the platform serves
/// tonic through axum so that one listener carries every protocol and the
/// plain HTTP endpoints.
///
/// The handler runs inside [`platform::deadline::scope`], so the calls it
/// makes to other services see the same deadline
/// ([`platform::deadline::remaining`]).
#[derive(Debug, Clone, Copy)]
pub struct GrpcTimeoutLayer;

impl<S> Layer<S> for GrpcTimeoutLayer {
    type Service = GrpcTimeout<S>;
    fn layer(&self, inner: S) -> Self::Service {
        GrpcTimeout { inner }
    }
}

#[derive(Debug, Clone)]
pub struct GrpcTimeout<S> {
    inner: S,
}

impl<S, B, RB> Service<Request<B>> for GrpcTimeout<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
    S::Future: Send + 'static,
    RB: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    RB::Error: Into<axum::BoxError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let timeout = req.headers().get("grpc-timeout").and_then(|v| v.to_str().ok()).and_then(parse_grpc_timeout);
        // A timeout too far away to represent is no deadline at all.
        let Some((timeout, deadline)) = timeout.and_then(|t| Some((t, tokio::time::Instant::now().checked_add(t)?)))
        else {
            let fut = self.inner.call(req);
            return Box::pin(async move { fut.await.map(|r| r.map(Body::new)) });
        };
        let fut = platform::deadline::sync_scope(deadline, || self.inner.call(req));
        Box::pin(platform::deadline::scope(deadline, async move {
            match tokio::time::timeout_at(deadline, fut).await {
                Ok(res) => res.map(|r| r.map(|body| Body::new(DeadlineBody::new(body, deadline, timeout)))),
                Err(_) => {
                    Ok(tonic::Status::deadline_exceeded(format!("deadline of {timeout:?} exceeded"))
                        .into_http::<Body>())
                }
            }
        }))
    }
}

pin_project_lite::pin_project! {
    /// A response body that ends at the deadline, with `DEADLINE_EXCEEDED`
    /// as its trailers, unless it has ended before.
    pub struct DeadlineBody<B> {
        #[pin]
        inner: B,
        #[pin]
        sleep: tokio::time::Sleep,
        timeout: Duration,
        done: bool,
    }
}

impl<B> DeadlineBody<B> {
    fn new(inner: B, deadline: tokio::time::Instant, timeout: Duration) -> Self {
        Self { inner, sleep: tokio::time::sleep_until(deadline), timeout, done: false }
    }
}

impl<B> http_body::Body for DeadlineBody<B>
where
    B: http_body::Body<Data = bytes::Bytes>,
    B::Error: Into<axum::BoxError>,
{
    type Data = bytes::Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<bytes::Bytes>, Self::Error>>> {
        let this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        match this.inner.poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                *this.done = frame.is_trailers();
                return Poll::Ready(Some(Ok(frame)));
            }
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => {
                *this.done = true;
                return Poll::Ready(None);
            }
            Poll::Pending => {}
        }
        if this.sleep.poll(cx).is_pending() {
            return Poll::Pending;
        }
        *this.done = true;
        let status = tonic::Status::deadline_exceeded(format!("deadline of {:?} exceeded", this.timeout));
        // The status's headers, as a trailers-only answer would carry them.
        let mut trailers = HeaderMap::new();
        for (name, value) in status.into_http::<Body>().headers() {
            if name.as_str().starts_with("grpc-") {
                trailers.append(name.clone(), value.clone());
            }
        }
        Poll::Ready(Some(Ok(http_body::Frame::trailers(trailers))))
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }
}

/// Parses a `grpc-timeout` value: at most 8 digits and a unit
/// (`H`ours, `M`inutes, `S`econds, `m`illis, `u`micros, `n`anos).
pub fn parse_grpc_timeout(v: &str) -> Option<Duration> {
    let (digits, unit) = v.split_at(v.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// A `grpc-timeout` value for `d`: milliseconds while they fit in eight
/// digits, then coarser units (rounded up, so the deadline is never earlier
/// than the client asked).
pub fn format_grpc_timeout(d: Duration) -> String {
    const MAX: u128 = 99_999_999;
    let ms = d.as_millis() + u128::from(!d.subsec_nanos().is_multiple_of(1_000_000));
    if ms <= MAX {
        return format!("{ms}m");
    }
    let secs = d.as_secs() + u64::from(d.subsec_nanos() != 0);
    for (unit, per) in [("S", 1), ("M", 60), ("H", 3600)] {
        let n = secs.div_ceil(per);
        if u128::from(n) <= MAX {
            return format!("{n}{unit}");
        }
    }
    format!("{MAX}H")
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use super::*;

    #[test]
    fn parses_grpc_timeouts() {
        assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_grpc_timeout("3S"), Some(Duration::from_secs(3)));
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("100n"), Some(Duration::from_nanos(100)));
        for bad in ["", "m", "123456789m", "12x", "-1S", "1.5S"] {
            assert_eq!(parse_grpc_timeout(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_long_timeouts_in_coarser_units() {
        assert_eq!(format_grpc_timeout(Duration::from_millis(250)), "250m");
        assert_eq!(format_grpc_timeout(Duration::from_micros(1500)), "2m", "rounded up");
        assert_eq!(format_grpc_timeout(Duration::from_millis(99_999_999)), "99999999m");
        // Connect allows ten digits of milliseconds: 115 days.
        let d = Duration::from_millis(9_999_999_999);
        assert_eq!(format_grpc_timeout(d), "10000000S");
        assert!(parse_grpc_timeout(&format_grpc_timeout(d)).unwrap() >= d);
    }

    /// The handler sees the client's deadline as its remaining budget.
    #[tokio::test(start_paused = true)]
    async fn the_handler_runs_with_the_inbound_deadline() {
        use tower::ServiceExt;

        let handler = tower::service_fn(|_: Request<Body>| async {
            let budget = platform::deadline::remaining();
            tokio::time::sleep(Duration::from_millis(50)).await;
            let text = format!("{:?} {:?}", budget, platform::deadline::remaining());
            Ok::<_, Infallible>(Response::new(Body::from(text)))
        });
        let svc = GrpcTimeoutLayer.layer(handler);
        let body = |res: Response<Body>| async {
            String::from_utf8(axum::body::to_bytes(res.into_body(), 1024).await.unwrap().to_vec()).unwrap()
        };

        let req = Request::builder().header("grpc-timeout", "300m").body(Body::empty()).unwrap();
        let res = svc.clone().oneshot(req).await.unwrap();
        assert_eq!(body(res).await, "Some(300ms) Some(250ms)");

        let res = svc.clone().oneshot(Request::new(Body::empty())).await.unwrap();
        assert_eq!(body(res).await, "None None", "no grpc-timeout, no deadline");

        // Past the deadline the handler is cancelled and the client told so.
        let req = Request::builder().header("grpc-timeout", "20m").body(Body::empty()).unwrap();
        let res = svc.oneshot(req).await.unwrap();
        assert_eq!(res.headers()["grpc-status"], "4");
    }
}
