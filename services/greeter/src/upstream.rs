//! The caller service, as greeter uses it: one `Call` per greeting through
//! the shared resilience stack (deadline budget, retries, circuit breaker,
//! bulkhead), never failing the greeting.

use std::time::Duration;

use authn::client::ServiceToken;
use platform_proto::caller::v1::{CallRequest, CallResponse, caller_service_client::CallerServiceClient};
use resilience::{CallError, Idempotency, Policy, Upstream};
use tonic::{
    Request, Status,
    metadata::MetadataValue,
    service::interceptor::InterceptedService,
    transport::{Channel, Endpoint},
};

type Interceptor = fn(Request<()>) -> Result<Request<()>, Status>;

/// The HTTP method greeter asks caller to use: a GET, so calls are retried.
const METHOD: &str = "GET";

/// What greeter learned about an external URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct External {
    pub status: Option<i32>,
    pub error: Option<String>,
}

#[derive(Clone)]
pub struct CallerClient {
    client: CallerServiceClient<InterceptedService<Channel, Interceptor>>,
    upstream: Upstream,
    /// greeter's service token: caller admits only services it allows.
    identity: Option<ServiceToken>,
}

impl CallerClient {
    /// Connects lazily: greeter starts, and greets, while caller is down.
    pub fn new(url: &url::Url, policy: Policy, identity: Option<ServiceToken>) -> anyhow::Result<Self> {
        let channel = Endpoint::from_shared(url.to_string())?.connect_timeout(policy.attempt_timeout).connect_lazy();
        let interceptor: Interceptor = platform_rpc::propagation::grpc_interceptor;
        Ok(Self {
            client: CallerServiceClient::with_interceptor(channel, interceptor),
            upstream: Upstream::new("caller", policy),
            identity,
        })
    }

    /// The status of `url` as caller reports it; failures become `error`.
    pub async fn check(&self, url: &str) -> External {
        let token = match &self.identity {
            None => return External { status: None, error: Some("greeter has no service identity".into()) },
            Some(identity) => match identity.bearer().await {
                Ok(token) => token,
                Err(e) => return External { status: None, error: Some(e.to_string()) },
            },
        };
        let Ok(authorization) = MetadataValue::try_from(format!("Bearer {token}")) else {
            return External { status: None, error: Some("the service token is not a header value".into()) };
        };
        let attempt = |budget: Duration| {
            let mut request = Request::new(CallRequest { url: url.to_owned(), method: METHOD.into() });
            // Sent as grpc-timeout so that caller gives up when greeter does.
            request.set_timeout(budget);
            request.metadata_mut().insert("authorization", authorization.clone());
            let mut client = self.client.clone();
            async move { client.call(request).await.map(|r| r.into_inner()) }
        };
        match self.upstream.call(Idempotency::of_http_method(METHOD), attempt).await {
            Ok(CallResponse { status_code, error, .. }) => External {
                status: (status_code != 0).then_some(status_code),
                error: (!error.is_empty()).then_some(error),
            },
            Err(e) => External { status: None, error: Some(describe(e)) },
        }
    }
}

/// The text stored as `external_error`.
fn describe(e: CallError<Status>) -> String {
    match e {
        CallError::Upstream(s) => format!("caller: {}: {}", platform::observe::code_name(s.code() as i32), s.message()),
        // "caller did not answer within 300 ms", "caller unavailable (circuit open)", …
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_plainly() {
        let ms = Duration::from_millis;
        let timeout = CallError::Timeout { upstream: "caller", after: ms(300) };
        assert_eq!(describe(timeout), "caller did not answer within 300 ms");
        let spent = CallError::Timeout { upstream: "caller", after: Duration::ZERO };
        assert_eq!(describe(spent), "caller not called: the request's deadline had passed");
        let refused = CallError::Upstream(Status::permission_denied("private address"));
        assert_eq!(describe(refused), "caller: permission_denied: private address");
        assert_eq!(describe(CallError::Open { upstream: "caller" }), "caller unavailable (circuit open)");
    }
}
