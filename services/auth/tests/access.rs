//! Every route of auth against its declared access level, sent straight to
//! the service (no edge): anonymous, user, admin, the allowed service
//! (gateway) and another service.

use auth::{service::ACCESS, testing::Fixture};

#[tokio::test]
async fn every_route_enforces_its_declared_level() {
    let auth = Fixture::start().await;
    let checked = auth.walk(&auth.url(""), ACCESS, "gateway").await;
    assert_eq!(checked, ACCESS.len() * 5);
}

use serde_json::{Value, json};

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn login(auth: &Fixture, email: &str, password: &str) -> Value {
    let res = http().post(auth.url("/auth/login")).json(&json!({"email": email, "password": password})).send().await;
    let res = res.unwrap();
    assert_eq!(res.status(), 200, "login {email}");
    res.json().await.unwrap()
}

async fn refresh(auth: &Fixture, token: &str) -> u16 {
    http()
        .post(auth.url("/auth/refresh"))
        .json(&json!({"refresh_token": token}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn verify(auth: &Fixture, token: &str) -> reqwest::Response {
    http().get(auth.url("/auth/verify")).bearer_auth(token).send().await.unwrap()
}

fn claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn roles_reach_tokens_at_their_next_issue_and_every_change_is_audited() {
    let auth = Fixture::start().await;
    let (admin_id, admin) = auth.admin("root@example.com").await;
    let (ada_id, _) = auth.user("ada@example.com").await;
    let before = login(&auth, "ada@example.com", auth::testing::PASSWORD).await;
    assert_eq!(claims(before["access_token"].as_str().unwrap())["roles"], Value::Null, "no roles yet");

    let role = auth.url(&format!("/auth/admin/users/{ada_id}/roles/admin"));
    let res = http().put(&role).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["roles"], json!(["admin"]));
    // The token issued before the change keeps what it said; the next one carries the role.
    let old = before["access_token"].as_str().unwrap();
    assert_eq!(verify(&auth, old).await.status(), 200);
    let admin_verify = http().get(auth.url("/auth/verify?role=admin")).bearer_auth(old).send().await.unwrap();
    assert_eq!(admin_verify.status(), 403, "the old token has no admin role");
    let after = login(&auth, "ada@example.com", auth::testing::PASSWORD).await;
    assert_eq!(claims(after["access_token"].as_str().unwrap())["roles"], json!(["admin"]));
    let refreshed = http()
        .post(auth.url("/auth/refresh"))
        .json(&json!({"refresh_token": before["refresh_token"]}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(claims(refreshed["access_token"].as_str().unwrap())["roles"], json!(["admin"]), "refresh too");

    // Unknown roles, unknown users, and the last admin's role are refused.
    let res = http().put(auth.url(&format!("/auth/admin/users/{ada_id}/roles/root"))).bearer_auth(&admin).send().await;
    assert_eq!(res.unwrap().status(), 422);
    let nobody = "0b7f6a3c-1d2e-4f50-8a9b-0c1d2e3f4a5b";
    let res = http().put(auth.url(&format!("/auth/admin/users/{nobody}/roles/admin"))).bearer_auth(&admin).send().await;
    assert_eq!(res.unwrap().status(), 404);
    assert_eq!(http().delete(&role).bearer_auth(&admin).send().await.unwrap().status(), 200);
    let own = auth.url(&format!("/auth/admin/users/{admin_id}/roles/admin"));
    assert_eq!(http().delete(&own).bearer_auth(&admin).send().await.unwrap().status(), 409, "the last admin stays");

    let audit: Value =
        http().get(auth.url("/auth/admin/audit")).bearer_auth(&admin).send().await.unwrap().json().await.unwrap();
    let rows: Vec<(String, String, String)> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().into(),
                e["action"].as_str().unwrap().into(),
                e["target"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (admin_id.clone(), "role.revoked".into(), ada_id.clone()),
            (admin_id.clone(), "role.granted".into(), ada_id.clone()),
            ("operator".into(), "role.granted".into(), admin_id.clone()),
        ]
    );
    let found: Value = http()
        .get(auth.url("/auth/admin/users?email=ADA@example.com"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((&found["id"], &found["roles"]), (&json!(ada_id), &json!([])));
}

#[tokio::test]
async fn logout_everywhere_and_password_change_revoke_sessions() {
    let auth = Fixture::start().await;
    auth.user("ada@example.com").await;
    let pw = auth::testing::PASSWORD;
    let [a, b, c] = [
        login(&auth, "ada@example.com", pw).await,
        login(&auth, "ada@example.com", pw).await,
        login(&auth, "ada@example.com", pw).await,
    ];
    let token = |v: &Value, k: &str| v[k].as_str().unwrap().to_owned();

    // Password change: the current password is required; the other sessions end, this one stays.
    let change = |current: &str, new: &str| {
        http()
            .post(auth.url("/auth/password"))
            .bearer_auth(token(&a, "access_token"))
            .json(&json!({"current_password": current, "new_password": new}))
            .send()
    };
    assert_eq!(change("wrong password!", "a brand new secret").await.unwrap().status(), 403);
    assert_eq!(change(pw, "short").await.unwrap().status(), 422);
    assert_eq!(refresh(&auth, &token(&b, "refresh_token")).await, 200, "nothing changed yet");
    assert_eq!(change(pw, "a brand new secret").await.unwrap().status(), 204);
    assert_eq!(refresh(&auth, &token(&c, "refresh_token")).await, 401, "another session is revoked");
    assert_eq!(refresh(&auth, &token(&a, "refresh_token")).await, 200, "the changing session stays");
    let res = http().post(auth.url("/auth/login")).json(&json!({"email": "ada@example.com", "password": pw})).send();
    assert_eq!(res.await.unwrap().status(), 401, "the old password is gone");
    let d = login(&auth, "ada@example.com", "a brand new secret").await;

    // Log out everywhere.
    let res = http().post(auth.url("/auth/logout-all")).bearer_auth(token(&d, "access_token")).send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(refresh(&auth, &token(&d, "refresh_token")).await, 401);
    assert_eq!(http().post(auth.url("/auth/logout-all")).send().await.unwrap().status(), 401, "needs a token");
    // Access tokens already issued stay valid until they expire (documented).
    assert_eq!(verify(&auth, &token(&d, "access_token")).await.status(), 200);
}

#[tokio::test]
async fn a_key_rotation_keeps_tokens_signed_with_the_previous_key_valid() {
    let first = Fixture::start().await;
    let (_, old_token) = first.user("ada@example.com").await;
    let old_kid = claims_kid(&old_token);
    // `auth rotate-key --out` writes a new key and announces its public half.
    let dir = std::env::temp_dir().join(format!("auth-rotate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key_file = dir.join("signing-key.pem");
    let said = auth::ops::rotate_key(&first.config, Some(&key_file)).await.unwrap();
    assert!(said.contains("restart auth"), "{said}");
    let pem = std::fs::read_to_string(&key_file).unwrap();
    let new_kid = auth::keys::SigningKey::from_pem(pem.as_bytes()).unwrap().kid().to_owned();

    // auth restarts on the same database with the new key.
    let database = first.config.common.database.clone();
    let second = Fixture::start_with(|c| {
        c.common.database = database;
        c.tokens.key = auth::config::KeySource::File(key_file.clone());
    })
    .await;
    let jwks: Value = http().get(second.url("/auth/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
    let kids: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(kids, [new_kid.as_str(), old_kid.as_str()], "the current key first, the previous one still published");
    assert_eq!(verify(&second, &old_token).await.status(), 200, "a token of the previous key still verifies");
    let new = login(&second, "ada@example.com", auth::testing::PASSWORD).await;
    assert_eq!(claims_kid(new["access_token"].as_str().unwrap()), new_kid);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn retired_keys_leave_the_jwks_once_their_tokens_have_expired() {
    // Access tokens live 1 s and there is no leeway: the previous key is published for 1 s.
    let short = |c: &mut auth::Config| {
        c.tokens.access_ttl = std::time::Duration::from_secs(1);
        c.tokens.expected.leeway = std::time::Duration::ZERO;
        c.tokens.key_refresh = std::time::Duration::from_millis(200);
    };
    let first = Fixture::start_with(short).await;
    let (_, old_token) = first.user("ada@example.com").await;
    let database = first.config.common.database.clone();
    let second = Fixture::start_with(|c| {
        short(c);
        c.common.database = database;
    })
    .await;
    let kids = || async {
        let jwks: Value =
            http().get(second.url("/auth/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
        jwks["keys"].as_array().unwrap().len()
    };
    assert_eq!(kids().await, 2);
    // Generous: the refresh task runs every 200 ms.
    for _ in 0..100 {
        if kids().await == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(kids().await, 1, "the previous key was dropped");
    assert_eq!(verify(&second, &old_token).await.status(), 401);
}

#[tokio::test]
async fn service_tokens_need_a_known_client_and_its_secret() {
    let auth = Fixture::start().await;
    let form = |body: &str| {
        http()
            .post(auth.url("/auth/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned())
            .send()
    };
    let good = auth.client("greeter");
    let ok = form(&format!("grant_type=client_credentials&client_id=greeter&client_secret={}", good.secret.expose()));
    let ok: Value = ok.await.unwrap().json().await.unwrap();
    assert_eq!((ok["token_type"].as_str(), ok["expires_in"].as_u64()), (Some("Bearer"), Some(300)));
    assert_eq!(claims(ok["access_token"].as_str().unwrap())["client_id"], "greeter");
    for (body, status) in [
        ("grant_type=client_credentials&client_id=greeter&client_secret=guess", 401),
        ("grant_type=client_credentials&client_id=nobody&client_secret=guess", 401),
        ("grant_type=password&client_id=greeter&client_secret=x", 400),
        ("client_id=greeter", 400),
    ] {
        assert_eq!(form(body).await.unwrap().status(), status, "{body}");
    }
    // A service token is no user: auth's user routes refuse it.
    let service = ok["access_token"].as_str().unwrap();
    assert_eq!(http().get(auth.url("/auth/me")).bearer_auth(service).send().await.unwrap().status(), 403);
    assert_eq!(verify(&auth, service).await.status(), 403, "the edge does not admit service tokens");
}

fn claims_kid(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

#[tokio::test]
async fn stats_refuse_missing_forged_and_foreign_service_tokens() {
    let auth = Fixture::start().await;
    let gateway = auth.service_token("gateway").await;
    let greeter = auth.service_token("greeter").await;
    // The same claims signed by another auth's key, and gateway's claims under greeter's signature.
    let foreign = Fixture::start().await.service_token("gateway").await;
    let tampered = {
        let (g, r): (Vec<&str>, Vec<&str>) = (gateway.split('.').collect(), greeter.split('.').collect());
        format!("{}.{}.{}", r[0], g[1], r[2])
    };
    let stats = |token: Option<String>| {
        let mut req = http().get(auth.url("/auth/stats"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(stats(None).await, 401);
    assert_eq!(stats(Some(foreign)).await, 401);
    assert_eq!(stats(Some(tampered)).await, 401);
    assert_eq!(stats(Some(greeter)).await, 403, "greeter is not allowed to read them");
    assert_eq!(stats(Some(gateway)).await, 200);
}

/// Sessions long expired, their families and old audit records are deleted
/// (at start, then hourly); live ones stay.
#[tokio::test]
async fn sessions_families_and_audit_records_past_retention_are_deleted() {
    let first = Fixture::start().await;
    first.admin("root@example.com").await;
    first.user("ada@example.com").await;
    let db = first.config.common.database.clone();
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect_with(&db.url.options).await.unwrap();
    let count = |sql: &'static str| sqlx::query_scalar::<_, i64>(sql);
    // Ada's session expired 8 days ago; the audit record is 400 days old.
    sqlx::query(
        "UPDATE sessions SET expires_at = now() - interval '8 days'
         WHERE user_id = (SELECT id FROM users WHERE email = 'ada@example.com')",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query("UPDATE session_families SET created_at = now() - interval '40 days'")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_log SET at = now() - interval '400 days'").execute(&mut conn).await.unwrap();
    assert_eq!(count("SELECT count(*) FROM sessions").fetch_one(&mut conn).await.unwrap(), 2);

    let _second = Fixture::start_with(|c| c.common.database = db.clone()).await;
    let mut left = (0, 0, 0);
    for _ in 0..300 {
        left = (
            count("SELECT count(*) FROM sessions").fetch_one(&mut conn).await.unwrap(),
            count("SELECT count(*) FROM session_families").fetch_one(&mut conn).await.unwrap(),
            count("SELECT count(*) FROM audit_log").fetch_one(&mut conn).await.unwrap(),
        );
        if left == (1, 1, 0) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(left, (1, 1, 0), "(sessions, families, audit records) left: only the admin's live session");
}
