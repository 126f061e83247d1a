//! greeter → caller under faults, with the real greeter binary (its own
//! process, so its breaker and metrics are its own) in front of a scripted
//! caller on loopback: caller down, hanging, failing now and then, failing
//! until the breaker opens, and too slow for a flood of greetings.

mod support;

use std::{process::Stdio, time::Duration};

use platform_proto::greeter::v1::{GreetRequest, GreetResponse, ListGreetingsRequest};
use support::{
    GreeterProcess,
    fake_caller::{FakeCaller, Reply},
    sample,
};
use tonic::Code;

/// The greeter binary with a real auth (the fake caller admits anyone), and a
/// client presenting a user's token.
async fn greeter(caller_url: &str, env: &[(&str, &str)]) -> (GreeterProcess, support::Client) {
    let auth = support::auth().await;
    let (_, token) = auth.user("ada@example.com").await;
    let mut env = env.to_vec();
    env.push(("CALLER_URL", caller_url));
    let mut process = support::spawn_binary(&auth, &env, Stdio::null()).await;
    let client = support::client(&process.base, &token).await;
    process.token = token;
    (process, client)
}

async fn greet(client: &mut support::Client) -> GreetResponse {
    let request = GreetRequest { name: "Ada".into(), url: "https://example.com/".into() };
    client.greet(request).await.expect("a greeting never fails for caller's sake").into_inner()
}

const CALLS: &str = "upstream_calls_total{upstream=\"caller\",outcome=";
const RETRIES: &str = "upstream_retries_total{upstream=\"caller\"}";
const SHED: &str = "upstream_shed_total{upstream=\"caller\"}";
const REJECTED: &str = "upstream_breaker_rejections_total{upstream=\"caller\"}";
const BREAKER: &str = "upstream_breaker_state{upstream=\"caller\"}";

fn calls(outcome: &str) -> String {
    format!("{CALLS}\"{outcome}\"}}")
}

#[tokio::test]
async fn caller_down_is_retried_reported_and_the_greeting_stored() {
    let (greeter, mut client) = greeter(&format!("http://{}", support::dead_port()), &[]).await;
    let r = greet(&mut client).await;
    assert_eq!(r.greeting, "Hello, Ada!");
    assert_eq!(r.external_status, 0);
    assert!(r.external_error.starts_with("caller: unavailable: "), "{}", r.external_error);

    let stored = client.list_greetings(ListGreetingsRequest::default()).await.unwrap().into_inner();
    assert_eq!(stored.greetings[0].external_error, r.external_error);

    let metrics = greeter.metrics().await;
    assert_eq!(sample(&metrics, RETRIES), Some(2.0), "refused connections are retried twice:\n{metrics}");
    assert_eq!(sample(&metrics, &calls("error")), Some(1.0), "{metrics}");
}

#[tokio::test]
async fn a_hanging_caller_is_given_up_on_after_caller_timeout_ms_once() {
    let caller = FakeCaller::start(Reply::Hang).await;
    let (greeter, mut client) = greeter(&caller.url(), &[("CALLER_TIMEOUT_MS", "300")]).await;
    let r = greet(&mut client).await;
    assert_eq!(r.external_error, "caller did not answer within 300 ms");
    assert_eq!(caller.timeouts(), [Some(Duration::from_millis(300))], "the budget went out as grpc-timeout");
    assert_eq!(caller.hits(), 1, "a timeout is not retried");
    let metrics = greeter.metrics().await;
    assert_eq!(sample(&metrics, &calls("timeout")), Some(1.0), "{metrics}");
    assert_eq!(sample(&metrics, RETRIES), None, "{metrics}");
}

#[tokio::test]
async fn a_client_deadline_shorter_than_caller_timeout_ms_wins() {
    let caller = FakeCaller::start(Reply::Hang).await;
    let (greeter, mut client) = greeter(&caller.url(), &[("CALLER_TIMEOUT_MS", "10000")]).await;
    let deadline = Duration::from_secs(2);
    let mut request = tonic::Request::new(GreetRequest { name: "Ada".into(), url: "https://example.com/".into() });
    request.set_timeout(deadline);
    // Answered, not DEADLINE_EXCEEDED: greeter finished within the client's deadline.
    let r = client.greet(request).await.expect("greeted within the deadline").into_inner();

    let budget = caller.timeouts()[0].expect("caller was sent a deadline");
    assert!(budget < deadline, "caller got {budget:?}, less than the client's {deadline:?}");
    assert_eq!(r.external_error, format!("caller did not answer within {} ms", budget.as_millis()));
    let stored = client.list_greetings(ListGreetingsRequest::default()).await.unwrap().into_inner();
    assert_eq!(stored.greetings[0].external_error, r.external_error);

    // Connect's connect-timeout-ms is the same deadline.
    let res = support::http(&greeter.token)
        .post(format!("{}/greeter.v1.GreeterService/Greet", greeter.base))
        .header("content-type", "application/json")
        .header("connect-timeout-ms", "2000")
        .body(r#"{"name":"Ada","url":"https://example.com/"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    let budget = caller.timeouts()[1].expect("caller was sent a deadline");
    assert!(budget < deadline, "caller got {budget:?}, less than the client's {deadline:?}");
    assert_eq!(body["externalError"], format!("caller did not answer within {} ms", budget.as_millis()));
    assert_eq!(caller.hits(), 2);
}

#[tokio::test]
async fn an_intermittent_failure_is_retried_into_a_success() {
    let caller = FakeCaller::start(Reply::Status(200)).await;
    caller.script([Reply::Fail(Code::Unavailable)]);
    let (greeter, mut client) = greeter(&caller.url(), &[]).await;
    let r = greet(&mut client).await;
    assert_eq!((r.external_status, r.external_error.as_str()), (200, ""));
    assert_eq!(caller.hits(), 2);
    let metrics = greeter.metrics().await;
    assert_eq!(sample(&metrics, RETRIES), Some(1.0), "{metrics}");
    assert_eq!(sample(&metrics, &calls("ok")), Some(1.0), "{metrics}");
}

#[tokio::test]
async fn a_failing_caller_opens_the_breaker_until_a_probe_succeeds() {
    let caller = FakeCaller::start(Reply::Fail(Code::Unavailable)).await;
    // Long enough for the two refused greetings below to fall inside it.
    let cool_down = Duration::from_secs(3);
    let env = [("CALLER_RETRIES", "0"), ("CALLER_BREAKER_FAILURES", "3"), ("CALLER_BREAKER_COOLDOWN_MS", "3000")];
    let (greeter, mut client) = greeter(&caller.url(), &env).await;
    assert_eq!(sample(&greeter.metrics().await, BREAKER), Some(0.0), "closed at start");

    for _ in 0..3 {
        let r = greet(&mut client).await;
        assert!(r.external_error.starts_with("caller: unavailable: "), "{}", r.external_error);
    }
    assert_eq!(sample(&greeter.metrics().await, BREAKER), Some(2.0), "open after 3 failures");

    for _ in 0..2 {
        let r = greet(&mut client).await;
        assert_eq!(r.external_error, "caller unavailable (circuit open)");
    }
    assert_eq!(caller.hits(), 3, "an open breaker keeps calls away from caller");
    let metrics = greeter.metrics().await;
    assert_eq!(sample(&metrics, REJECTED), Some(2.0), "{metrics}");
    assert_eq!(sample(&metrics, &calls("open")), Some(2.0), "{metrics}");

    caller.otherwise(Reply::Status(200));
    tokio::time::sleep(cool_down + Duration::from_millis(100)).await;
    let r = greet(&mut client).await;
    assert_eq!((r.external_status, r.external_error.as_str()), (200, ""), "the probe went through");
    assert_eq!(caller.hits(), 4);
    assert_eq!(sample(&greeter.metrics().await, BREAKER), Some(0.0), "closed again");
    assert_eq!(greet(&mut client).await.external_status, 200);
    assert_eq!(caller.hits(), 5);
}

#[tokio::test]
async fn a_flood_against_a_slow_caller_is_shed_while_other_rpcs_answer() {
    let caller = FakeCaller::start(Reply::Hold).await;
    let (greeter, client) = greeter(&caller.url(), &[("CALLER_MAX_CONCURRENCY", "2")]).await;
    let spawn_greeting = || {
        let mut client = client.clone();
        tokio::spawn(async move { greet(&mut client).await })
    };

    let held: Vec<_> = (0..2).map(|_| spawn_greeting()).collect();
    caller.until_in_flight(2).await;
    let flood: Vec<_> = (0..6).map(|_| spawn_greeting()).collect();
    for greeting in flood {
        let r = greeting.await.unwrap();
        assert_eq!(r.greeting, "Hello, Ada!");
        assert_eq!(r.external_error, "caller overloaded (too many calls in flight)");
    }
    assert_eq!(caller.hits(), 2, "shed calls never reach caller");

    // The slow calls are still held; everything else answers meanwhile.
    let listed = client.clone().list_greetings(ListGreetingsRequest::default()).await.unwrap().into_inner();
    assert_eq!(listed.greetings.len(), 6, "the shed greetings are stored");
    let health = reqwest::get(format!("{}/healthz", greeter.base)).await.unwrap();
    assert_eq!(health.status(), 200);
    let metrics = greeter.metrics().await;
    assert_eq!(sample(&metrics, SHED), Some(6.0), "{metrics}");
    assert_eq!(sample(&metrics, &calls("shed")), Some(6.0), "{metrics}");
    assert!(held.iter().all(|h| !h.is_finished()), "the slow calls were pending all along");
    assert_eq!(caller.in_flight(), 2);

    caller.release();
    for greeting in held {
        assert_eq!(greeting.await.unwrap().external_status, 200);
    }
    assert_eq!(sample(&greeter.metrics().await, &calls("ok")), Some(2.0));
}
