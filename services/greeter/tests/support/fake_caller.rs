//! A stand-in for the caller service, served by tonic on a loopback port,
//! whose answers the test scripts and which counts what reaches it.

use std::{
    collections::VecDeque,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use platform_proto::caller::v1::{
    CallRequest, CallResponse, ListCallsRequest, ListCallsResponse,
    caller_service_server::{CallerService, CallerServiceServer},
};
use tonic::{Code, Request, Response, Status};

/// How the fake answers one call.
#[derive(Debug, Clone, Copy)]
pub enum Reply {
    /// Reports this HTTP status for the URL.
    Status(i32),
    /// Fails with this gRPC code.
    Fail(Code),
    /// Never answers (until the client gives up).
    Hang,
    /// Answers 200 once [`FakeCaller::release`] is called.
    Hold,
}

#[derive(Clone)]
pub struct FakeCaller {
    pub addr: SocketAddr,
    state: Arc<State>,
}

struct State {
    script: Mutex<VecDeque<Reply>>,
    otherwise: Mutex<Reply>,
    hits: AtomicUsize,
    in_flight: AtomicUsize,
    timeouts: Mutex<Vec<Option<Duration>>>,
    released: tokio::sync::watch::Sender<bool>,
}

impl FakeCaller {
    /// Serves on a free loopback port, answering `otherwise` unless scripted.
    pub async fn start(otherwise: Reply) -> Self {
        let state = Arc::new(State {
            script: Mutex::default(),
            otherwise: Mutex::new(otherwise),
            hits: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            timeouts: Mutex::default(),
            released: tokio::sync::watch::Sender::new(false),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let service = CallerServiceServer::new(Handler(state.clone()));
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        Self { addr, state }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The next calls' answers, in order, before falling back to `otherwise`.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.script.lock().unwrap().extend(replies);
    }

    pub fn otherwise(&self, reply: Reply) {
        *self.state.otherwise.lock().unwrap() = reply;
    }

    /// Calls that reached the fake.
    pub fn hits(&self) -> usize {
        self.state.hits.load(Ordering::SeqCst)
    }

    /// Calls being answered right now.
    pub fn in_flight(&self) -> usize {
        self.state.in_flight.load(Ordering::SeqCst)
    }

    /// The `grpc-timeout` of every call, in order.
    pub fn timeouts(&self) -> Vec<Option<Duration>> {
        self.state.timeouts.lock().unwrap().clone()
    }

    /// Lets every held call, and later ones, answer.
    pub fn release(&self) {
        self.state.released.send_replace(true);
    }

    /// Waits until `n` calls are in flight; gives up after a minute rather than hang the test.
    pub async fn until_in_flight(&self, n: usize) {
        for _ in 0..12_000 {
            if self.in_flight() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("{n} calls never reached the fake caller ({} did)", self.in_flight());
    }
}

struct Handler(Arc<State>);

/// Counts a call as in flight until its answer is sent or abandoned.
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[tonic::async_trait]
impl CallerService for Handler {
    async fn call(&self, request: Request<CallRequest>) -> Result<Response<CallResponse>, Status> {
        let state = &self.0;
        state.in_flight.fetch_add(1, Ordering::SeqCst);
        let _in_flight = InFlight(&state.in_flight);
        state.hits.fetch_add(1, Ordering::SeqCst);
        let timeout = request
            .metadata()
            .get("grpc-timeout")
            .and_then(|v| v.to_str().ok())
            .and_then(platform_rpc::timeout::parse_grpc_timeout);
        state.timeouts.lock().unwrap().push(timeout);
        let scripted = state.script.lock().unwrap().pop_front();
        let reply = scripted.unwrap_or_else(|| *state.otherwise.lock().unwrap());
        let status_code = match reply {
            Reply::Status(code) => code,
            Reply::Fail(code) => return Err(Status::new(code, "scripted failure")),
            Reply::Hang => std::future::pending().await,
            Reply::Hold => {
                let mut released = state.released.subscribe();
                released.wait_for(|r| *r).await.unwrap();
                200
            }
        };
        Ok(Response::new(CallResponse { status_code, ..Default::default() }))
    }

    async fn list_calls(&self, _: Request<ListCallsRequest>) -> Result<Response<ListCallsResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }
}
