//! What an access token says.

use serde::{Deserialize, Serialize};

/// The claims of an access token. A user's token names the user and their
/// session; a service's token (OAuth2 client credentials) names the client
/// in `client_id` and has no email, roles or session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user's id, or `service:<client id>` for a service.
    pub sub: String,
    /// The user's normalised email address; empty for a service.
    #[serde(default)]
    pub email: String,
    /// The user's roles when the token was issued, e.g. `["admin"]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// The refresh-session family the token was issued for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Set only on service tokens: the calling service's client id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Expires at, seconds since the epoch.
    pub exp: i64,
    pub iss: String,
    pub aud: String,
    /// Unique token id, for correlation in logs and audits.
    pub jti: String,
}

/// The role that administers the platform.
pub const ADMIN: &str = "admin";

/// Who is calling: put into request extensions once a token is verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The token's subject: a user id, or `service:<client id>`.
    pub user_id: String,
    pub email: String,
    pub roles: Vec<String>,
    /// The session family of a user's token.
    pub session: Option<String>,
    /// The client id of a service's token.
    pub client: Option<String>,
    /// When the token expires, seconds since the epoch.
    pub expires_at: i64,
}

impl Identity {
    /// A user's token (not a service's).
    pub fn is_user(&self) -> bool {
        self.client.is_none()
    }

    /// A user holding the admin role.
    pub fn is_admin(&self) -> bool {
        self.is_user() && self.roles.iter().any(|r| r == ADMIN)
    }

    /// The calling service's client id, for a service token.
    pub fn service(&self) -> Option<&str> {
        self.client.as_deref()
    }
}

impl From<Claims> for Identity {
    fn from(c: Claims) -> Self {
        Self { user_id: c.sub, email: c.email, roles: c.roles, session: c.sid, client: c.client_id, expires_at: c.exp }
    }
}

/// The token in an `Authorization: Bearer …` header value, if that is what
/// it holds (the scheme is case-insensitive).
pub fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens() {
        assert_eq!(bearer("Bearer abc.def.ghi"), Some("abc.def.ghi"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic dXNlcjpwYXNz"), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("Bearer"), None);
    }
}
