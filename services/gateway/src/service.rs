//! `gateway.v1.GatewayService`.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use authn::Identity;
use chrono::Utc;
use moka::future::Cache;
use platform_proto::gateway::v1::{
    self as pb,
    gateway_service_server::{GatewayService, GatewayServiceServer},
};
use platform_rpc::{details::invalid_field, pagination::timestamp, reply};
use resilience::CallError;
use tokio::time::Instant;
use tonic::{Request, Response, Status};

use crate::{
    config::CacheConfig,
    projection::Projection,
    recording::Called,
    store::{MethodSummary, Store},
    upstream::{HttpError, LangClient, LangGreeting, LangLanguage, reached},
    watch::OverviewFeed,
};

pub const LOCALIZED_GREETING: &str = "/gateway.v1.GatewayService/LocalizedGreeting";
pub const OVERVIEW: &str = "/gateway.v1.GatewayService/Overview";
pub const METRICS: &str = "/gateway.v1.GatewayService/Metrics";
pub const WATCH_OVERVIEW: &str = "/gateway.v1.GatewayService/WatchOverview";
/// Every RPC of the service, as recorded.
pub const METHODS: &[&str] = &[LOCALIZED_GREETING, OVERVIEW, METRICS, WATCH_OVERVIEW];

/// The window of the request metrics in an overview, and of `Metrics`
/// when the request names none.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(3600);
/// Longest language tag accepted (lang's limit).
const MAX_LANGUAGE_CHARS: usize = 35;
/// How long a summary of the request metrics is reused: summarising an hour
/// of requests sorts every latency in it, too much for every overview.
const SUMMARY_TTL: Duration = Duration::from_secs(5);
/// Longest one summary may take, in the database (statement timeout) and
/// waiting for a connection.
pub const SUMMARY_TIMEOUT: Duration = Duration::from_secs(2);
/// Summaries kept at most (one per window asked for).
const SUMMARY_WINDOWS: u64 = 64;
/// At most this much of a request's remaining deadline is kept back from
/// upstream calls, so a fallback can still be answered in time.
const MAX_RESERVE: Duration = Duration::from_millis(100);

/// Name, language, and the cache's generation when the entry was asked for.
type CacheKey = (String, String, u64);

#[derive(Clone)]
pub struct Gateway {
    lang: LangClient,
    /// The user count, from events ([`crate::projection`]).
    projection: Projection,
    store: Store,
    cache: Option<Cache<CacheKey, LangGreeting>>,
    /// Bumped when a translation changes: entries asked for before then,
    /// even those whose fill is still in flight, are never read again.
    generation: Arc<AtomicU64>,
    max_window: Duration,
    /// Summaries of the request metrics by window (milliseconds), shared by
    /// Overview and Metrics: concurrent asks share one query, which runs in a
    /// task of its own, and its failure is shared too, never retried by each
    /// waiter in turn.
    summaries: Cache<u64, Arc<Vec<MethodSummary>>>,
    /// `WatchOverview`'s one overview every few seconds.
    feed: OverviewFeed,
}

impl Gateway {
    /// `max_window`: the longest `Metrics` window, i.e. the retention period.
    pub fn new(
        lang: LangClient,
        projection: Projection,
        store: Store,
        cache: &CacheConfig,
        max_window: Duration,
        feed: OverviewFeed,
    ) -> Self {
        let cache = (!cache.ttl.is_zero())
            .then(|| Cache::builder().max_capacity(cache.max_entries).time_to_live(cache.ttl).build());
        let summaries = Cache::builder().max_capacity(SUMMARY_WINDOWS).time_to_live(SUMMARY_TTL).build();
        Self { lang, projection, store, cache, generation: Arc::default(), max_window, summaries, feed }
    }

    /// A translation changed: no cached greeting is served again. Bumping
    /// the generation first means a fill that started before the change
    /// lands under a key no request asks for (clearing alone would let it
    /// in after the clear, for a whole TTL).
    pub fn translations_changed(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Some(cache) = &self.cache {
            cache.invalidate_all();
        }
    }

    /// The overview from lang, the user projection (`with_users`) and the request metrics,
    /// with what could not be had listed in `unavailable`, and whether every
    /// upstream asked was down.
    pub(crate) async fn overview_of(&self, with_users: bool, called: &Called) -> (pb::OverviewResponse, bool) {
        let (languages, users, metrics) = tokio::join!(
            call_upstream(called, LangClient::NAME, self.lang.languages()),
            async {
                if !with_users {
                    return None;
                }
                Some(
                    within_budget(self.projection.user_count())
                        .await
                        .unwrap_or_else(|_| Err("the deadline passed".to_owned())),
                )
            },
            within_budget(self.summaries(DEFAULT_WINDOW)),
        );

        let mut unavailable = Vec::new();
        let languages = languages.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "overview without languages");
            unavailable.push("lang".to_owned());
            Vec::new()
        });
        let user_count = users.and_then(|users| {
            users
                .inspect_err(|e| {
                    tracing::warn!(error = %e, "overview without the user count");
                    unavailable.push("users".to_owned());
                })
                .ok()
        });
        let metrics = metrics.unwrap_or_else(|_| Err("the deadline passed".to_owned())).unwrap_or_else(|error| {
            tracing::warn!(%error, "overview without request metrics");
            unavailable.push("metrics".to_owned());
            Arc::default()
        });
        let upstreams_down = unavailable.iter().filter(|part| *part != "metrics").count();
        let overview = pb::OverviewResponse {
            languages: languages.into_iter().map(language_pb).collect(),
            user_count,
            metrics: metrics.iter().cloned().map(summary_pb).collect(),
            unavailable,
            generated_at: Some(timestamp(Utc::now())),
            metrics_window: Some(duration_pb(DEFAULT_WINDOW)),
        };
        (overview, upstreams_down == if with_users { 2 } else { 1 })
    }

    pub fn into_server(self) -> GatewayServiceServer<Self> {
        platform_rpc::configure!(GatewayServiceServer::new(self))
    }

    /// The summaries of the last `window`, at most [`SUMMARY_TTL`] old. The
    /// query runs in its own task, bounded by [`SUMMARY_TIMEOUT`] alone: a
    /// requester that gives up neither cancels it nor hands its waiters an
    /// error.
    async fn summaries(&self, window: Duration) -> Result<Arc<Vec<MethodSummary>>, String> {
        let store = self.store.clone();
        let query = async move {
            let task = tokio::spawn(async move {
                match tokio::time::timeout(SUMMARY_TIMEOUT, store.summaries(window, SUMMARY_TIMEOUT)).await {
                    Ok(Ok(rows)) => Ok(Arc::new(rows)),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err(format!("gateway_db did not answer within {SUMMARY_TIMEOUT:?}")),
                }
            });
            task.await.map_err(|e| format!("the summary task failed: {e}"))?
        };
        self.summaries.try_get_with(window.as_millis() as u64, query).await.map_err(|e| (*e).clone())
    }
}

/// Runs `fut` within the request's deadline less a small reserve; past it,
/// `Err` with the budget it had. Without a deadline, `fut` runs as is (each
/// upstream call is still bounded by its policy).
async fn within_budget<F: Future>(fut: F) -> Result<F::Output, Duration> {
    let Some(until) = platform::deadline::reserving(10, MAX_RESERVE) else {
        return Ok(fut.await);
    };
    let budget = until.saturating_duration_since(Instant::now());
    // The narrower scope tells the resilience stack what it may spend.
    platform::deadline::scope(until, tokio::time::timeout_at(until, fut)).await.map_err(|_| budget)
}

/// lang's greeting, fetched in a task of its own (it carries the trace, not
/// the requester's deadline).
async fn fill_from_lang(
    lang: LangClient,
    name: String,
    language: String,
) -> Result<LangGreeting, CallError<HttpError>> {
    let span = tracing::Span::current();
    let task =
        tokio::spawn(tracing::Instrument::instrument(async move { lang.greeting(&name, &language).await }, span));
    task.await.unwrap_or_else(|e| Err(CallError::Upstream(HttpError::Transport(format!("the fetch task failed: {e}")))))
}

/// Calls an upstream within the budget, noting it in `called` if it was reached.
async fn call_upstream<T>(
    called: &Called,
    upstream: &'static str,
    fut: impl Future<Output = Result<T, CallError<HttpError>>>,
) -> Result<T, CallError<HttpError>> {
    let result = within_budget(fut).await.unwrap_or_else(|after| Err(CallError::Timeout { upstream, after }));
    if result.as_ref().err().is_none_or(reached) {
        called.add(upstream);
    }
    result
}

/// The requested language, trimmed; empty means English.
fn language_arg(raw: &str) -> Result<&str, Status> {
    let language = raw.trim();
    if language.chars().count() > MAX_LANGUAGE_CHARS || language.chars().any(char::is_control) {
        return Err(invalid_field(
            "language",
            format!(
                "language must be a language tag such as en, fr or pt-BR (at most {MAX_LANGUAGE_CHARS} characters)"
            ),
        ));
    }
    Ok(language)
}

/// What lang would answer without lang: English, flagged as a fallback
/// when another language was asked for.
fn built_in(name: &str, language: &str) -> pb::LocalizedGreetingResponse {
    let primary = language.split(['-', '_']).next().unwrap_or("");
    pb::LocalizedGreetingResponse {
        greeting: format!("Hello, {name}!"),
        language: "en".into(),
        fallback: !language.is_empty() && !primary.eq_ignore_ascii_case("en"),
        source: pb::Source::Fallback.into(),
    }
}

fn to_pb(g: LangGreeting, source: pb::Source) -> pb::LocalizedGreetingResponse {
    pb::LocalizedGreetingResponse {
        greeting: g.greeting,
        language: g.language,
        fallback: g.fallback,
        source: source.into(),
    }
}

fn language_pb(l: LangLanguage) -> pb::Language {
    pb::Language { code: l.code, name: l.name, native_name: l.native_name }
}

fn summary_pb(s: MethodSummary) -> pb::MethodMetrics {
    pb::MethodMetrics {
        method: s.method,
        requests: s.requests,
        errors: s.errors,
        p50_ms: s.p50_ms,
        p95_ms: s.p95_ms,
        p99_ms: s.p99_ms,
    }
}

fn duration_pb(d: Duration) -> prost_types::Duration {
    prost_types::Duration::try_from(d).unwrap_or(prost_types::Duration { seconds: i64::MAX, nanos: 0 })
}

/// The `Metrics` window: positive, at most the retention period.
fn window_arg(window: Option<prost_types::Duration>, max: Duration) -> Result<Duration, Status> {
    let Some(w) = window else { return Ok(DEFAULT_WINDOW) };
    let positive = w.seconds >= 0 && (0..1_000_000_000).contains(&w.nanos) && (w.seconds, w.nanos) != (0, 0);
    if !positive {
        return Err(invalid_field("window", "window must be a positive duration, e.g. \"3600s\" for the last hour"));
    }
    let window = Duration::new(w.seconds as u64, w.nanos as u32);
    if window > max {
        return Err(invalid_field(
            "window",
            format!(
                "window may be at most {}s ({} days): older requests are not kept",
                max.as_secs(),
                max.as_secs() / 86_400
            ),
        ));
    }
    Ok(window)
}

#[tonic::async_trait]
impl GatewayService for Gateway {
    async fn localized_greeting(
        &self,
        request: Request<pb::LocalizedGreetingRequest>,
    ) -> Result<Response<pb::LocalizedGreetingResponse>, Status> {
        let called = Called::of(&request);
        let req = request.into_inner();
        let name = platform::validate::name(&req.name).map_err(|e| invalid_field("name", e))?;
        let language = language_arg(&req.language)?;

        let generation = self.generation.load(Ordering::SeqCst);
        let key = (name.to_owned(), language.to_ascii_lowercase().replace('_', "-"), generation);
        // Concurrent misses for one key share a single call to lang; only
        // answers are cached, never failures. The fill is shared work: it
        // runs in its own task under lang's policy alone, so the first
        // requester's short deadline cannot hand its waiters the fallback;
        // each requester waits for it within its own budget.
        let answer = match &self.cache {
            Some(cache) => {
                let fill = fill_from_lang(self.lang.clone(), name.to_owned(), language.to_owned());
                match within_budget(cache.entry(key).or_try_insert_with(fill)).await {
                    Ok(Ok(entry)) => {
                        let source = if entry.is_fresh() { pb::Source::Upstream } else { pb::Source::Cache };
                        if entry.is_fresh() {
                            called.add(LangClient::NAME);
                        }
                        Ok((entry.into_value(), source))
                    }
                    Ok(Err(shared)) => {
                        if reached(&shared) {
                            called.add(LangClient::NAME);
                        }
                        Err(Arc::unwrap_or_clone(shared))
                    }
                    Err(after) => Err(CallError::Timeout { upstream: LangClient::NAME, after }),
                }
            }
            None => call_upstream(&called, LangClient::NAME, self.lang.greeting(name, language))
                .await
                .map(|greeting| (greeting, pb::Source::Upstream)),
        };
        match answer {
            Ok((greeting, source)) => Ok(reply(to_pb(greeting, source))),
            // The request was bad, not lang: a fallback would hide that.
            Err(CallError::Upstream(HttpError::Rejected { message, .. })) => {
                Err(Status::invalid_argument(format!("lang refused the request: {message}")))
            }
            Err(e) => {
                tracing::warn!(error = %e, "lang could not greet; answering with the built-in greeting");
                Ok(reply(built_in(name, language)))
            }
        }
    }

    async fn overview(&self, request: Request<pb::OverviewRequest>) -> Result<Response<pb::OverviewResponse>, Status> {
        // User data is for authenticated callers only.
        let with_users = request.extensions().get::<Identity>().is_some();
        let (overview, all_down) = self.overview_of(with_users, &Called::of(&request)).await;
        // The overview is what lang and the users say; the gateway's own
        // metrics alone are not worth answering with.
        if all_down {
            return Err(Status::unavailable(format!(
                "the overview's sources are unavailable ({}); try again",
                overview.unavailable.join(", ")
            )));
        }
        Ok(reply(overview))
    }

    type WatchOverviewStream = crate::watch::OverviewStream;

    async fn watch_overview(
        &self,
        _: Request<pb::WatchOverviewRequest>,
    ) -> Result<Response<crate::watch::OverviewStream>, Status> {
        Ok(Response::new(self.feed.watch(self)?))
    }

    async fn metrics(&self, request: Request<pb::MetricsRequest>) -> Result<Response<pb::MetricsResponse>, Status> {
        let window = window_arg(request.into_inner().window, self.max_window)?;
        let rows = within_budget(self.summaries(window))
            .await
            .unwrap_or_else(|_| Err("the deadline passed".to_owned()))
            .map_err(|e| {
                tracing::error!(error = %e, "reading request metrics failed");
                Status::unavailable("request metrics are unavailable; try again")
            })?;
        Ok(reply(pb::MetricsResponse {
            metrics: rows.iter().cloned().map(summary_pb).collect(),
            window: Some(duration_pb(window)),
            generated_at: Some(timestamp(Utc::now())),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_match_the_contract() {
        let service = platform_proto::descriptor_pool().get_service_by_name("gateway.v1.GatewayService").unwrap();
        let mut declared: Vec<String> =
            service.methods().map(|m| format!("/{}/{}", service.full_name(), m.name())).collect();
        declared.sort();
        let mut ours: Vec<&str> = METHODS.to_vec();
        ours.sort();
        assert_eq!(declared, ours);
    }

    #[test]
    fn the_built_in_greeting_is_english_and_says_so() {
        let g = built_in("Ada", "fr");
        assert_eq!((g.greeting.as_str(), g.language.as_str(), g.fallback), ("Hello, Ada!", "en", true));
        assert_eq!(g.source(), pb::Source::Fallback);
        assert!(!built_in("Ada", "").fallback);
        assert!(!built_in("Ada", "en-GB").fallback);
    }

    #[test]
    fn windows_are_positive_and_within_retention() {
        let max = Duration::from_secs(7 * 86_400);
        let d = |seconds, nanos| Some(prost_types::Duration { seconds, nanos });
        assert_eq!(window_arg(None, max).unwrap(), DEFAULT_WINDOW);
        assert_eq!(window_arg(d(60, 500_000_000), max).unwrap(), Duration::from_millis(60_500));
        assert_eq!(window_arg(d(7 * 86_400, 0), max).unwrap(), max);
        for (bad, needle) in [
            (d(0, 0), "positive"),
            (d(-60, 0), "positive"),
            (d(0, -1), "positive"),
            (d(1, 1_000_000_000), "positive"),
            (d(7 * 86_400 + 1, 0), "at most 604800s"),
        ] {
            let err = window_arg(bad, max).unwrap_err();
            assert_eq!(err.code(), tonic::Code::InvalidArgument);
            assert!(err.message().contains(needle), "{bad:?}: {}", err.message());
        }
    }

    #[test]
    fn languages_are_bounded() {
        assert_eq!(language_arg("  pt-BR ").unwrap(), "pt-BR");
        assert_eq!(language_arg("").unwrap(), "");
        assert!(language_arg(&"x".repeat(36)).is_err());
        assert!(language_arg("fr\n").is_ok(), "trimmed first");
        assert!(language_arg("f\u{0}r").is_err());
    }
}
