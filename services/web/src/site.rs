//! The site's routes. Vite names every asset by its content's hash, so an
//! asset can be cached for good; `index.html` and the other files at the
//! root are revalidated on each visit (ETag, Last-Modified), so a new build
//! is picked up at the next page load. A one-segment path that is no file
//! is a page of the single-page app: it gets `index.html`, and the app's
//! router shows it. Deeper paths are no pages (404), so a mistyped API path
//! is never answered with HTML and a 200.

use std::path::{Path, PathBuf};

use axum::{
    Router,
    body::Body,
    extract::{Request, State},
    handler::Handler,
    http::{HeaderName, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use platform::observe::ObserveLayer;
use tower::{ServiceBuilder, ServiceExt};
use tower_http::{
    services::{ServeDir, ServeFile},
    set_header::SetResponseHeaderLayer,
};

/// No inline script or style, nothing from elsewhere: the page talks to its
/// own origin only (the edge, which routes the APIs), and no one may frame it.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; font-src 'self'; object-src 'none'; base-uri 'none'; \
     frame-ancestors 'none'; form-action 'self'";

/// Hashed assets: a new build writes new names.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Everything else is revalidated.
pub const REVALIDATE: &str = "no-cache";

/// What the site answers, and devstack prints, when nothing is built.
pub const BUILD_HINT: &str = "build it with `cd web && npm ci && npm run build`";

/// The built site in `dist`.
#[derive(Debug, Clone)]
pub struct Site {
    dist: PathBuf,
}

impl Site {
    pub fn new(dist: &Path) -> Self {
        Self { dist: dist.to_path_buf() }
    }

    pub fn is_built(&self) -> bool {
        self.dist.join("index.html").is_file()
    }

    /// `/assets/…` (404 when missing: an HTML page is no script), the files
    /// at the root, and `index.html` for every other path.
    pub fn router(&self) -> Router {
        let assets = ServiceBuilder::new()
            .layer(SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE)))
            .service(ServeDir::new(self.dist.join("assets")));
        let app = app_page.with_state(self.dist.join("index.html"));
        let pages = ServiceBuilder::new()
            .layer(SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static(REVALIDATE)))
            .service(ServeDir::new(&self.dist).fallback(app));
        let router = Router::new().nest_service("/assets", assets).fallback_service(pages);
        security_headers()
            .into_iter()
            .fold(router, |router, (name, value)| {
                router.layer(SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value)))
            })
            .layer(ObserveLayer::default())
    }
}

/// `index.html` for a page of the app; 503 saying how to build the site
/// while there is none (checked per request, so a build made while the
/// server runs is served at once).
async fn app_page(State(index): State<PathBuf>, req: Request) -> Response {
    if req.uri().path()[1..].contains('/') {
        return (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "No such page.\n")
            .into_response();
    }
    if !index.is_file() {
        let body = format!("The web front end is not built yet: {BUILD_HINT}.\n");
        return (StatusCode::SERVICE_UNAVAILABLE, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body)
            .into_response();
    }
    match ServeFile::new(index).oneshot(req).await {
        Ok(response) => response.map(Body::new),
        Err(never) => match never {},
    }
}

/// Headers every answer of the site carries.
fn security_headers() -> [(HeaderName, &'static str); 5] {
    [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (HeaderName::from_static("cross-origin-opener-policy"), "same-origin"),
    ]
}
