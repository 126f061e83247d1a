//! Who may call what: the access levels every route and RPC declares, and
//! the one check that enforces them inside the service.
//!
//! Each service writes its table once ([`Route`] per route or RPC) and
//! enforces it with `AccessLayer` (gRPC, feature `grpc`) or [`crate::rest`]'s
//! extractors (REST); its tests walk the same table with anonymous, user,
//! admin and service callers, and the edge's routers are checked against
//! it. The README's "Access" table is generated from these tables.

use std::{fmt, future::Future, pin::Pin, sync::Arc};

use crate::{Claims, Identity, Rejected};

/// What a caller must present.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Access {
    /// Anyone; a token, when sent, must still be valid.
    Public,
    /// A user's valid access token.
    User,
    /// A user's token carrying the admin role.
    Admin,
    /// A service's token from a client the service allows
    /// (`SERVICE_ALLOWED_CLIENTS`); never routed at the edge.
    Service,
    /// A service client's own credentials, checked by the handler (auth's
    /// client-credentials grant); never routed at the edge.
    Client,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::User => "user",
            Self::Admin => "admin",
            Self::Service => "service",
            Self::Client => "client credentials",
        }
    }

    /// Whether `caller` may call; the refusal says why.
    pub fn check(self, caller: Option<&Identity>, allowed_clients: &[String]) -> Result<(), Denied> {
        let needs_token = || Denied::Unauthenticated(Rejected::Missing.to_string());
        match (self, caller) {
            (Self::Public | Self::Client, _) => Ok(()),
            (_, None) => Err(needs_token()),
            (Self::User | Self::Admin, Some(id)) if !id.is_user() => {
                Err(Denied::Forbidden("a service token cannot be used here; send a user's access token".into()))
            }
            (Self::User, Some(_)) => Ok(()),
            (Self::Admin, Some(id)) if id.is_admin() => Ok(()),
            (Self::Admin, Some(_)) => Err(Denied::Forbidden("this requires the admin role".into())),
            (Self::Service, Some(id)) => match id.service() {
                Some(client) if allowed_clients.iter().any(|c| c == client) => Ok(()),
                Some(client) => Err(Denied::Forbidden(format!("the service {client:?} may not call this"))),
                None => Err(Denied::Forbidden("only the platform's services may call this".into())),
            },
        }
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a call was refused. Messages are safe to return to clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// No token, or one that does not verify (401 / `UNAUTHENTICATED`).
    Unauthenticated(String),
    /// A valid token that does not grant this (403 / `PERMISSION_DENIED`).
    Forbidden(String),
    /// The signing keys cannot be fetched (503 / `UNAVAILABLE`).
    Unavailable(String),
}

impl From<Rejected> for Denied {
    fn from(r: Rejected) -> Self {
        match r {
            Rejected::KeysUnavailable => Self::Unavailable(r.to_string()),
            other => Self::Unauthenticated(other.to_string()),
        }
    }
}

/// One route or RPC and its access level, as a service declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The HTTP method (`POST` for RPCs).
    pub method: &'static str,
    /// The path: a template such as `/lang/v1/translations/{language}/{key}`
    /// for REST, `/<package>.<Service>/<Method>` for RPCs.
    pub path: &'static str,
    pub access: Access,
}

impl Route {
    pub const fn new(method: &'static str, path: &'static str, access: Access) -> Self {
        Self { method, path, access }
    }

    /// An RPC of a gRPC service.
    pub const fn rpc(path: &'static str, access: Access) -> Self {
        Self { method: "POST", path, access }
    }

    /// The route's access level for an RPC path; unknown methods need a user's token.
    pub fn of_rpc(routes: &[Route], path: &str) -> Access {
        routes.iter().find(|r| r.path == path).map_or(Access::User, |r| r.access)
    }
}

/// Something that turns a token into verified claims: the remote [`crate::Jwks`]
/// in most services, auth's own keys in auth.
pub trait Verify: Send + Sync + 'static {
    fn verify<'a>(&'a self, token: &'a str) -> Pin<Box<dyn Future<Output = Result<Claims, Rejected>> + Send + 'a>>;
}

impl Verify for crate::Jwks {
    fn verify<'a>(&'a self, token: &'a str) -> Pin<Box<dyn Future<Output = Result<Claims, Rejected>> + Send + 'a>> {
        Box::pin(crate::Jwks::verify(self, token))
    }
}

/// What a service needs to decide access: a verifier and the service
/// clients it admits to [`Access::Service`] routes.
#[derive(Clone)]
pub struct Gate {
    pub verifier: Arc<dyn Verify>,
    pub allowed_clients: Arc<[String]>,
    /// Tokens refused before they expire, when the service follows them.
    pub revocations: Option<crate::Revocations>,
}

impl Gate {
    pub fn new(verifier: Arc<dyn Verify>, allowed_clients: impl IntoIterator<Item = String>) -> Self {
        Self { verifier, allowed_clients: allowed_clients.into_iter().collect(), revocations: None }
    }

    /// Also refuses the tokens `revocations` names.
    pub fn with_revocations(mut self, revocations: crate::Revocations) -> Self {
        self.revocations = Some(revocations);
        self
    }

    /// The caller behind an `Authorization` header value, if any. A header
    /// that is sent but does not verify is refused whatever the route.
    pub async fn identify(&self, authorization: Option<&http::HeaderValue>) -> Result<Option<Identity>, Denied> {
        let Some(value) = authorization else { return Ok(None) };
        let token = value.to_str().ok().and_then(crate::claims::bearer).ok_or_else(|| {
            Denied::Unauthenticated("the Authorization header must be \"Bearer <access token>\"".into())
        })?;
        let claims = self.verifier.verify(token).await?;
        if let Some(reason) = self.revocations.as_ref().and_then(|r| r.refused(&claims)) {
            return Err(Denied::Unauthenticated(reason.into()));
        }
        Ok(Some(Identity::from(claims)))
    }

    /// Identifies the caller and checks `access`.
    pub async fn admit(
        &self,
        access: Access,
        authorization: Option<&http::HeaderValue>,
    ) -> Result<Option<Identity>, Denied> {
        let caller = self.identify(authorization).await?;
        access.check(caller.as_ref(), &self.allowed_clients)?;
        Ok(caller)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(roles: &[&str], client: Option<&str>) -> Identity {
        Identity {
            user_id: client.map_or("u1".into(), |c| format!("service:{c}")),
            email: String::new(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            session: None,
            client: client.map(str::to_owned),
            expires_at: 0,
        }
    }

    #[test]
    fn each_level_admits_exactly_its_callers() {
        let allowed = vec!["greeter".to_owned()];
        let user = id(&[], None);
        let admin = id(&["admin"], None);
        let greeter = id(&[], Some("greeter"));
        let gateway = id(&[], Some("gateway"));
        // A service token claiming the admin role is still not a user.
        let forged_role = id(&["admin"], Some("greeter"));
        let callers = [None, Some(&user), Some(&admin), Some(&greeter), Some(&gateway), Some(&forged_role)];
        let table = [
            (Access::Public, [true, true, true, true, true, true]),
            (Access::User, [false, true, true, false, false, false]),
            (Access::Admin, [false, false, true, false, false, false]),
            (Access::Service, [false, false, false, true, false, true]),
        ];
        for (access, expected) in table {
            for (caller, ok) in callers.iter().zip(expected) {
                let got = access.check(*caller, &allowed);
                assert_eq!(got.is_ok(), ok, "{access} for {caller:?}: {got:?}");
                if let Err(denied) = got {
                    let anonymous = caller.is_none();
                    assert_eq!(matches!(denied, Denied::Unauthenticated(_)), anonymous, "{access} {caller:?}");
                }
            }
        }
    }

    #[test]
    fn unknown_rpcs_need_a_user() {
        let routes = [Route::rpc("/a.v1.S/Open", Access::Public)];
        assert_eq!(Route::of_rpc(&routes, "/a.v1.S/Open"), Access::Public);
        assert_eq!(Route::of_rpc(&routes, "/a.v1.S/Other"), Access::User);
    }
}
