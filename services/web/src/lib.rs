//! The web front end's server: the files Vite built (`web/dist`), served
//! with the shared runtime (`/healthz`, `/readyz`, `/metrics`, request ids,
//! one log line and metric per request, graceful shutdown).
//!
//! - [`site`]: the routes, cache headers, SPA fallback and security headers.
//! - [`config`]: `WEB_DIST` besides the common variables.

pub mod config;
pub mod site;
pub mod startup;

pub use config::Config;
pub use startup::build;

use authn::{Access, Route};

/// Every route and its access level: the site is public. What a page shows
/// is guarded by the services it calls, each enforcing its own rules.
pub const ACCESS: &[Route] = &[
    Route::new("GET", "/", Access::Public),
    Route::new("GET", "/assets/{file}", Access::Public),
    Route::new("GET", "/{page}", Access::Public),
];
