//! `WatchOverview` over every protocol that carries a server stream, plain
//! and with gzip: the overview at once, a new one each interval, shared by
//! every watcher (one computation each interval), the stream ended by the
//! client's deadline; refused without a token.

mod support;

use std::time::Duration;

use platform_proto::gateway::v1::{WatchOverviewRequest, WatchOverviewResponse};
use rpc_testkit::{Client, Item, Stream, Wire};
use support::{Auth, Neighbours};
use testkit::nats::Nats;
use tonic::Code;

const WATCH: &str = "/gateway.v1.GatewayService/WatchOverview";
const PATIENCE: Duration = Duration::from_secs(10);

async fn overview(watch: &mut Stream<WatchOverviewResponse>) -> platform_proto::gateway::v1::OverviewResponse {
    match watch.next_within(PATIENCE).await {
        Some(Item::Message { message, .. }) => message.overview.expect("an overview"),
        other => panic!("{}: expected an overview, got {other:?}", watch.wire),
    }
}

#[tokio::test]
async fn watch_overview_streams_one_shared_overview_each_interval_over_every_wire() {
    let nats = Nats::start();
    let auth = Auth::with_events(&nats.url()).await;
    let n = Neighbours { lang: support::lang().await, auth: auth.addr, jwks: None };
    let gateway = support::with_events(&n, &nats.url(), &[("GATEWAY_WATCH_INTERVAL_SECS", "1")]).await;
    let anonymous = Client::new(gateway.addr, platform_proto::descriptor_pool());
    let token = auth.token("ada@example.com").await;
    let user = anonymous.with_token(&token);
    // The sign-up read from auth's events before anyone watches.
    support::counted(&gateway, &token, 1).await;

    let mut watches = tokio::task::JoinSet::new();
    for wire in Wire::streams(false) {
        let user = user.with_timeout(Duration::from_secs(4));
        watches.spawn(async move {
            let mut watch = user.stream(wire, WATCH, &[WatchOverviewRequest {}]).await;
            let first = overview(&mut watch).await;
            assert_eq!((first.languages.len(), first.user_count), (15, Some(1)), "{wire}");
            let second = overview(&mut watch).await;
            let (t1, t2) = (first.generated_at.unwrap(), second.generated_at.unwrap());
            assert!((t2.seconds, t2.nanos) > (t1.seconds, t1.nanos), "{wire}: a newer overview");
            let ending = loop {
                match watch.next_within(PATIENCE).await {
                    Some(Item::Message { .. }) => continue,
                    Some(Item::End(ending)) => break ending,
                    None => panic!("{wire}: the stream did not end at its deadline"),
                }
            };
            ending.assert(wire, Code::DeadlineExceeded, "deadline");
            (t1.seconds, t1.nanos)
        });
    }
    let mut firsts = Vec::new();
    while let Some(first) = watches.join_next().await {
        firsts.push(first.unwrap());
    }
    // Watchers that started together were handed the same computation.
    firsts.sort();
    firsts.dedup();
    assert!(firsts.len() <= 2, "{} distinct first overviews for 16 watchers", firsts.len());

    for wire in [Wire::streams(false)[0], Wire::streams(false)[8]] {
        let refused = anonymous.stream_all::<_, WatchOverviewResponse>(wire, WATCH, &[WatchOverviewRequest {}]).await;
        refused.ending.assert(wire, Code::Unauthenticated, "");
        assert!(refused.messages.is_empty());
    }
}
