//! Access tokens refused before they expire: those of a deleted account
//! (`user.deleted`) and those of ended sessions (`sessions.revoked`: a
//! logout, logging out everywhere, a password change, a reused refresh
//! token). Tokens are verified locally from the JWKS, so each process
//! learns of revocations from auth's event stream: one task per process
//! follows it (an ordered consumer, replaying the last `retain` on start)
//! and requests only read what it has learnt.
//!
//! Every revocation is kept for `retain` (`AUTH_REVOCATION_RETAIN_SECS`,
//! 1 hour: longer than an access token lives), in bounded caches.

use std::time::Duration;

use async_nats::jetstream::{
    self,
    consumer::{DeliverPolicy, pull::OrderedConfig},
};
use events::{envelope::CloudEvent, subjects, v1};
use futures_util::StreamExt;
use moka::future::Cache;
use prost::Message;
use tokio::task::JoinHandle;

use crate::Claims;

/// The stream auth's events are in, and the subjects read from it.
const STREAM: &str = "platform-auth";
const SUBJECTS: &str = "platform.auth.>";
/// Revocations kept at most, of each kind: far above what an hour brings.
const CAPACITY: u64 = 200_000;

/// What this process knows to be revoked.
#[derive(Clone)]
pub struct Revocations {
    retain: Duration,
    /// Deleted accounts, by user id.
    users: Cache<String, ()>,
    /// Ended sessions, by session (family) id.
    sessions: Cache<String, ()>,
}

impl Revocations {
    /// Remembers each revocation for `retain`, which must exceed the access
    /// tokens' lifetime.
    pub fn new(retain: Duration) -> Revocations {
        let cache = || Cache::builder().max_capacity(CAPACITY).time_to_live(retain).build();
        Revocations { retain, users: cache(), sessions: cache() }
    }

    /// Why the token with `claims` is refused, if it is.
    pub fn refused(&self, claims: &Claims) -> Option<&'static str> {
        if self.users.contains_key(&claims.sub) {
            return Some("the account has been deleted");
        }
        if claims.sid.as_ref().is_some_and(|sid| self.sessions.contains_key(sid)) {
            return Some("the session has ended (a logout or a password change); log in again");
        }
        None
    }

    /// Learns from one of auth's events; others are ignored.
    pub async fn apply(&self, event: &CloudEvent) {
        if event.kind == subjects::USER_DELETED {
            if let Ok(deleted) = v1::UserDeleted::decode(&event.data[..]) {
                self.users.insert(deleted.user_id, ()).await;
            }
        } else if event.kind == subjects::SESSIONS_REVOKED
            && let Ok(revoked) = v1::SessionsRevoked::decode(&event.data[..])
        {
            for session in revoked.sessions {
                self.sessions.insert(session, ()).await;
            }
        }
    }

    /// Follows auth's stream at `nats_url` until the process ends,
    /// reconnecting with backoff; while the broker is away, what was learnt
    /// stays and new revocations wait in auth's outbox.
    pub fn follow(self, nats_url: String) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(100);
            let mut said = false;
            loop {
                match self.consume(&nats_url).await {
                    Err(e) if !said => {
                        tracing::warn!(url = %nats_url, error = %e,
                            "not following token revocations; tokens of deleted accounts and ended sessions work until they expire");
                        said = true;
                    }
                    _ => {}
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        })
    }

    async fn consume(&self, url: &str) -> Result<(), String> {
        let client = events::connect(url).await.map_err(|e| e.to_string())?;
        let stream = jetstream::new(client).get_stream(STREAM).await.map_err(|e| e.to_string())?;
        let start = async_nats::datetime::DateTime::now_utc() - self.retain;
        let consumer = stream
            .create_consumer(OrderedConfig {
                filter_subject: SUBJECTS.to_owned(),
                deliver_policy: DeliverPolicy::ByStartTime { start_time: start },
                ..Default::default()
            })
            .await
            .map_err(|e| e.to_string())?;
        let mut messages = consumer.messages().await.map_err(|e| e.to_string())?;
        tracing::info!("following token revocations");
        while let Some(message) = messages.next().await {
            let message = message.map_err(|e| e.to_string())?;
            if let Ok(event) = CloudEvent::from_message(message.headers.as_ref(), &message.payload) {
                self.apply(&event).await;
            }
        }
        Err("the stream of revocations ended".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(sub: &str, sid: Option<&str>) -> Claims {
        Claims {
            sub: sub.into(),
            email: String::new(),
            roles: Vec::new(),
            sid: sid.map(str::to_owned),
            client_id: None,
            iat: 0,
            exp: 0,
            iss: "auth".into(),
            aud: "platform".into(),
            jti: "j".into(),
        }
    }

    fn event(kind: &str, data: Vec<u8>) -> CloudEvent {
        let time = chrono::DateTime::UNIX_EPOCH;
        CloudEvent {
            id: "e".into(),
            source: "/auth".into(),
            kind: kind.into(),
            time,
            subject: None,
            traceparent: None,
            data,
        }
    }

    #[tokio::test]
    async fn deleted_accounts_and_ended_sessions_are_refused_and_nothing_else() {
        let revocations = Revocations::new(Duration::from_secs(60));
        let (ada, ada_other, bob) = (claims("ada", Some("s1")), claims("ada", Some("s2")), claims("bob", Some("s3")));
        assert_eq!(revocations.refused(&ada), None);
        let ended = v1::SessionsRevoked { user_id: "ada".into(), sessions: vec!["s1".into()], revoked_at: None };
        revocations.apply(&event(subjects::SESSIONS_REVOKED, ended.encode_to_vec())).await;
        assert!(revocations.refused(&ada).unwrap().contains("session has ended"));
        assert_eq!(revocations.refused(&ada_other), None, "another session of the same user");
        let deleted = v1::UserDeleted { user_id: "ada".into(), deleted_at: None };
        revocations.apply(&event(subjects::USER_DELETED, deleted.encode_to_vec())).await;
        assert!(revocations.refused(&ada_other).unwrap().contains("deleted"));
        assert_eq!(revocations.refused(&bob), None);
        // Other events of auth's, and garbage, change nothing.
        revocations.apply(&event(subjects::USER_REGISTERED, b"\xff\xff".to_vec())).await;
        assert_eq!(revocations.refused(&bob), None);
    }
}
