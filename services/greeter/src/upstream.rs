//! The caller service, as greeter uses it: one call per greeting, bounded by
//! a deadline, never failing the greeting.

use std::time::Duration;

use platform_proto::caller::v1::{CallRequest, caller_service_client::CallerServiceClient};
use tonic::{
    Request, Status,
    service::interceptor::InterceptedService,
    transport::{Channel, Endpoint},
};

type Interceptor = fn(Request<()>) -> Result<Request<()>, Status>;

/// What greeter learned about an external URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct External {
    pub status: Option<i32>,
    pub error: Option<String>,
}

#[derive(Clone)]
pub struct CallerClient {
    client: CallerServiceClient<InterceptedService<Channel, Interceptor>>,
    timeout: Duration,
}

impl CallerClient {
    /// Connects lazily: greeter starts, and greets, while caller is down.
    pub fn new(url: &url::Url, timeout: Duration) -> anyhow::Result<Self> {
        let channel = Endpoint::from_shared(url.to_string())?.connect_timeout(timeout).connect_lazy();
        let interceptor: Interceptor = platform::propagation::grpc_interceptor;
        Ok(Self { client: CallerServiceClient::with_interceptor(channel, interceptor), timeout })
    }

    /// The status of `url` as caller reports it; failures become `error`.
    pub async fn check(&self, url: &str) -> External {
        let mut request = Request::new(CallRequest { url: url.to_owned(), method: "GET".into() });
        // Sent as grpc-timeout so caller gives up too; enforced here as well.
        request.set_timeout(self.timeout);
        let mut client = self.client.clone();
        let start = std::time::Instant::now();
        let missed_deadline = || External {
            status: None,
            error: Some(format!("caller did not answer within {} ms", self.timeout.as_millis())),
        };
        match tokio::time::timeout(self.timeout, client.call(request)).await {
            Ok(Ok(response)) => {
                let r = response.into_inner();
                External {
                    status: (r.status_code != 0).then_some(r.status_code),
                    error: (!r.error.is_empty()).then_some(r.error),
                }
            }
            // tonic's client enforces the deadline itself and reports it as
            // CANCELLED or DEADLINE_EXCEEDED; say what happened instead.
            Ok(Err(status))
                if matches!(status.code(), tonic::Code::Cancelled | tonic::Code::DeadlineExceeded)
                    && start.elapsed() >= self.timeout =>
            {
                missed_deadline()
            }
            Ok(Err(status)) => External {
                status: None,
                error: Some(format!("caller: {}: {}", platform::connect::code_name(status.code()), status.message())),
            },
            Err(_) => missed_deadline(),
        }
    }
}
