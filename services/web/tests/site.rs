//! The site over real HTTP: a built directory like Vite's, the cache and
//! security headers, the SPA fallback, and a site built while it runs.

use std::path::Path;

use platform::Env;
use reqwest::{Client, StatusCode, header};

const INDEX: &str =
    "<!doctype html><title>platform</title><script type=\"module\" src=\"/assets/index-Bx1.js\"></script>";

/// Serves `dist` on a free port; its base URL.
async fn serve(dist: &Path) -> String {
    let env = Env::from_pairs([("PORT", "0"), ("WEB_DIST", dist.to_str().unwrap())]);
    let server = web::build(web::Config::from_env(&env).unwrap()).await.unwrap();
    let addr = server.local_addr();
    tokio::spawn(server.run_until(std::future::pending()));
    format!("http://{addr}")
}

fn built(dir: &Path) {
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    std::fs::write(dir.join("index.html"), INDEX).unwrap();
    std::fs::write(dir.join("assets/index-Bx1.js"), "console.log(1)").unwrap();
    std::fs::write(dir.join("favicon.svg"), "<svg xmlns=\"http://www.w3.org/2000/svg\"/>").unwrap();
}

fn http() -> Client {
    Client::builder().no_proxy().build().unwrap()
}

#[tokio::test]
async fn pages_revalidate_assets_cache_for_good_and_every_answer_is_locked_down() {
    let dir = tempfile::tempdir().unwrap();
    built(dir.path());
    let base = serve(dir.path()).await;
    let http = http();

    for page in ["/", "/history", "/login?next=%2Fgreet", "/no-such-page"] {
        let res = http.get(format!("{base}{page}")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{page}");
        assert_eq!(res.headers()[header::CACHE_CONTROL], web::site::REVALIDATE, "{page}");
        assert!(res.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"), "{page}");
        assert_eq!(res.headers()[header::CONTENT_SECURITY_POLICY], web::site::CONTENT_SECURITY_POLICY);
        assert_eq!(res.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(res.headers()[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(res.text().await.unwrap(), INDEX, "{page} is the app's page");
    }
    let csp = web::site::CONTENT_SECURITY_POLICY;
    assert!(csp.contains("script-src 'self';") && !csp.contains("unsafe-inline"), "{csp}");

    let res = http.get(format!("{base}/assets/index-Bx1.js")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CACHE_CONTROL], web::site::IMMUTABLE);
    assert!(res.headers()[header::CONTENT_TYPE].to_str().unwrap().contains("javascript"));
    assert_eq!(res.headers()[header::CONTENT_SECURITY_POLICY], web::site::CONTENT_SECURITY_POLICY);

    // The app's pages are one segment deep: a deeper path (a mistyped API
    // path, say) is no page, and never gets the app's HTML with a 200.
    for path in ["/auth/stats", "/deep/link/page", "/caller.v1.CallerService/Call"] {
        let res = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(res.headers()[header::CONTENT_SECURITY_POLICY], web::site::CONTENT_SECURITY_POLICY);
    }

    // A missing asset is a 404, never the page (which a browser would run as a script).
    let res = http.get(format!("{base}/assets/index-Old.js")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    let res = http.get(format!("{base}/favicon.svg")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CACHE_CONTROL], web::site::REVALIDATE);
    assert!(res.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("image/svg+xml"));

    // Revalidation costs no body.
    let res = http.get(format!("{base}/")).send().await.unwrap();
    let modified = res.headers()[header::LAST_MODIFIED].clone();
    let res = http.get(format!("{base}/")).header(header::IF_MODIFIED_SINCE, modified).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);

    let res = http.post(format!("{base}/")).body("x").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn nothing_outside_the_build_is_served() {
    let root = tempfile::tempdir().unwrap();
    let dist = root.path().join("dist");
    built(&dist);
    std::fs::write(root.path().join("secret.txt"), "do not serve").unwrap();
    let base = serve(&dist).await;
    for path in ["/../secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt", "/assets/..%2f..%2fsecret.txt"] {
        // Raw, so the client does not normalise the path first.
        let res = raw_get(&base, path).await;
        assert!(!res.contains("do not serve"), "{path}: {res}");
    }
}

/// A GET with the path exactly as given; the whole answer as text.
async fn raw_get(base: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(base.trim_start_matches("http://")).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer
}

#[tokio::test]
async fn before_a_build_it_says_how_to_build_and_serves_one_made_while_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let base = serve(dir.path()).await;
    let http = http();
    let res = http.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.text().await.unwrap().contains("npm run build"));
    // The runtime's endpoints answer all the same: ready, with nothing to wait for.
    for path in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(http.get(format!("{base}{path}")).send().await.unwrap().status(), StatusCode::OK, "{path}");
    }

    built(dir.path());
    let res = http.get(format!("{base}/history")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.unwrap(), INDEX);
}
