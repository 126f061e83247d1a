//! A participant's side of the account-deletion saga, which auth runs: on
//! `user.deletion_requested` the participant removes what it holds of the
//! user and answers `user_data.deleted` through its outbox, in the same
//! transaction, so the answer is sent if and only if the data is gone. Once
//! it gives up on a request (every delivery failed) it answers
//! `user_data.deletion_failed` with the reason instead.
//!
//! Removal is idempotent: a repeated request (auth retries the silent)
//! removes nothing more and is answered again.

use std::{future::Future, pin::Pin, sync::Arc};

use prost::Message;
use sqlx::{PgConnection, PgPool};

use crate::{
    consumer::{self, Consumer, GiveUp, Handler},
    outbox::{self, Event},
    subjects, v1,
};

/// Removes everything the participant holds of one user (by id) in the
/// given transaction; how many records went.
pub type Remove = Box<
    dyn for<'c> Fn(&'c mut PgConnection, &'c str) -> Pin<Box<dyn Future<Output = Result<i64, String>> + Send + 'c>>
        + Send
        + Sync,
>;

/// A [`Remove`] that runs one statement, `DELETE … WHERE <user column> = $1`.
pub fn remove_with(delete: &'static str) -> Remove {
    Box::new(move |conn, user_id| {
        Box::pin(async move {
            let removed = sqlx::query(delete).bind(user_id).execute(conn).await.map_err(|e| e.to_string())?;
            Ok(i64::try_from(removed.rows_affected()).unwrap_or(i64::MAX))
        })
    })
}

/// The stream the requests come from (auth's).
const STREAM: &str = "platform-auth";

/// `participant`'s consumer of deletion requests: durable
/// `<participant>-deletions`, answering on `platform.<participant>.user_data.*`.
pub fn consumer(pool: PgPool, config: consumer::Config, participant: &'static str, remove: Remove) -> Consumer {
    let remove = Arc::new(remove);
    let handler: Handler = Box::new(move |conn, event| {
        let remove = remove.clone();
        Box::pin(async move {
            let Some(request) = request_for(participant, &event.data)? else {
                return Ok(());
            };
            let removed = remove(conn, &request.user_id).await?;
            let answer = v1::UserDataDeleted {
                user_id: request.user_id.clone(),
                participant: participant.to_owned(),
                removed,
                deleted_at: Some(outbox::timestamp(chrono::Utc::now())),
            };
            answer_with(conn, participant, &subjects::user_data_deleted(participant), &request.user_id, answer).await
        })
    });
    let give_up: GiveUp = Box::new(move |conn, event, reason| {
        Box::pin(async move {
            let Ok(Some(request)) = request_for(participant, &event.data) else {
                return Ok(());
            };
            let answer = v1::UserDataDeletionFailed {
                user_id: request.user_id.clone(),
                participant: participant.to_owned(),
                reason: reason.to_owned(),
                failed_at: Some(outbox::timestamp(chrono::Utc::now())),
            };
            let subject = subjects::user_data_deletion_failed(participant);
            answer_with(conn, participant, &subject, &request.user_id, answer).await
        })
    });
    Consumer::new(pool, config, handler).on_give_up(give_up)
}

/// The consumer's configuration: the broker and copies of the
/// participant's own relay, the platform's consumer defaults.
pub fn config(relay: &crate::relay::Config, participant: &str) -> consumer::Config {
    let durable = format!("{participant}-deletions");
    consumer::Config {
        replicas: relay.replicas,
        ..consumer::Config::new(&relay.nats_url, STREAM, &durable, subjects::USER_DELETION_REQUESTED)
    }
}

/// The request, if it asks `participant`.
fn request_for(participant: &str, data: &[u8]) -> Result<Option<v1::UserDeletionRequested>, String> {
    let request = v1::UserDeletionRequested::decode(data).map_err(|e| format!("not a UserDeletionRequested: {e}"))?;
    if request.user_id.is_empty() {
        return Err("a UserDeletionRequested without a user id".to_owned());
    }
    let asked = request.participants.is_empty() || request.participants.iter().any(|p| p == participant);
    Ok(asked.then_some(request))
}

async fn answer_with(
    conn: &mut PgConnection,
    participant: &str,
    subject: &str,
    user_id: &str,
    answer: impl Message,
) -> Result<(), String> {
    let source = format!("/{participant}");
    let data = answer.encode_to_vec();
    outbox::enqueue(conn, &Event::new(subject, &source, Some(user_id), &data)).await.map_err(|e| e.to_string())?;
    Ok(())
}
