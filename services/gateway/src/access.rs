//! Who may call which RPC: declared once here, enforced by
//! [`authn::AccessLayer`] in front of the service, walked by the tests and
//! checked against the edge. RPCs missing from the table need a user's token.

use authn::{Access, Route};

use crate::service::{LOCALIZED_GREETING, METRICS, OVERVIEW, WATCH_OVERVIEW};

pub const ACCESS: &[Route] = &[
    // Without a token it answers with less (no user count).
    Route::rpc(OVERVIEW, Access::Public),
    Route::rpc(LOCALIZED_GREETING, Access::User),
    Route::rpc(METRICS, Access::Admin),
    Route::rpc(WATCH_OVERVIEW, Access::User),
];
