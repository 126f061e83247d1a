//! Keyset pagination with opaque page tokens, shared by every `List*` RPC.
//!
//! Lists are ordered newest first by `(created_at, id)`. A page token is the
//! position of the last item returned, encoded so clients treat it as
//! opaque; keyset (rather than offset) paging stays correct while new rows
//! arrive and costs the same on page 1000 as on page 1.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};

pub const DEFAULT_PAGE_SIZE: i64 = 20;
pub const MAX_PAGE_SIZE: i64 = 100;

/// Where a page starts: strictly after this item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: i64,
}

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub size: i64,
    pub after: Option<Cursor>,
}

impl PageRequest {
    /// Validates `page_size` (0 means the default, above the maximum is
    /// capped) and decodes `page_token` (empty means the first page).
    pub fn parse(page_size: i32, page_token: &str) -> Result<Self, tonic::Status> {
        let size = match page_size {
            n if n < 0 => {
                return Err(crate::details::invalid_field(
                    "page_size",
                    "page_size must not be negative; 0 means the default",
                ));
            }
            0 => DEFAULT_PAGE_SIZE,
            n => i64::from(n).min(MAX_PAGE_SIZE),
        };
        let after = if page_token.is_empty() {
            None
        } else {
            Some(decode(page_token).ok_or_else(|| {
                crate::details::invalid_field(
                    "page_token",
                    "page_token is malformed; pass the next_page_token of a previous response, or nothing for the first page",
                )
            })?)
        };
        Ok(Self { size, after })
    }

    /// Rows to fetch: one more than the page, to learn whether another follows.
    pub fn limit(&self) -> i64 {
        self.size + 1
    }

    /// The `created_at` bound for the keyset query.
    pub fn before_time(&self) -> DateTime<Utc> {
        self.after.map(|c| c.created_at).unwrap_or_else(|| DateTime::<Utc>::MAX_UTC)
    }

    /// The `id` bound for the keyset query.
    pub fn before_id(&self) -> i64 {
        self.after.map(|c| c.id).unwrap_or(i64::MAX)
    }

    /// Trims the extra row fetched by [`limit`](Self::limit) and returns the
    /// token of the next page (empty on the last page).
    pub fn finish<T>(&self, rows: &mut Vec<T>, cursor_of: impl Fn(&T) -> Cursor) -> String {
        if rows.len() as i64 > self.size {
            rows.truncate(self.size as usize);
            rows.last().map(|r| encode(cursor_of(r))).unwrap_or_default()
        } else {
            String::new()
        }
    }
}

fn encode(c: Cursor) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1:{}:{}", c.created_at.timestamp_micros(), c.id))
}

fn decode(token: &str) -> Option<Cursor> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
    let mut parts = raw.strip_prefix("v1:")?.splitn(2, ':');
    let micros: i64 = parts.next()?.parse().ok()?;
    let id: i64 = parts.next()?.parse().ok()?;
    Some(Cursor { created_at: DateTime::from_timestamp_micros(micros)?, id })
}

/// A `google.protobuf.Timestamp` for a database time.
pub fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: t.timestamp(), nanos: t.timestamp_subsec_nanos() as i32 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_default_and_cap() {
        assert_eq!(PageRequest::parse(0, "").unwrap().size, 20);
        assert_eq!(PageRequest::parse(7, "").unwrap().size, 7);
        assert_eq!(PageRequest::parse(1000, "").unwrap().size, 100);
        assert_eq!(PageRequest::parse(-1, "").unwrap_err().code(), tonic::Code::InvalidArgument);
    }

    #[test]
    fn tokens_round_trip_and_malformed_ones_are_refused() {
        let c = Cursor { created_at: DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap(), id: 42 };
        assert_eq!(PageRequest::parse(5, &encode(c)).unwrap().after, Some(c));
        for bad in ["garbage", "djE6eDox", "!!", &URL_SAFE_NO_PAD.encode("v2:1:1")] {
            assert_eq!(PageRequest::parse(5, bad).unwrap_err().code(), tonic::Code::InvalidArgument, "{bad}");
        }
    }

    #[test]
    fn finish_trims_and_tokens_the_last_row() {
        let page = PageRequest::parse(2, "").unwrap();
        let t = DateTime::from_timestamp_micros(1).unwrap();
        let mut rows = vec![3, 2, 1];
        let token = page.finish(&mut rows, |&id| Cursor { created_at: t, id });
        assert_eq!(rows, vec![3, 2]);
        assert_eq!(decode(&token).unwrap().id, 2);
        let mut rows = vec![1];
        assert_eq!(page.finish(&mut rows, |&id| Cursor { created_at: t, id }), "");
    }
}
