//! gzip for Connect: whole unary bodies and GET messages (streaming
//! envelopes use the same two functions, one message at a time).
//!
//! gRPC and gRPC-Web messages are compressed by tonic itself (its `gzip`
//! feature); Connect's are not tonic's business, because the adapter
//! speaks uncompressed gRPC to the handlers. tower-http's body layers would
//! cover POST bodies but not GET messages or envelopes, nor answer an
//! unsupported encoding in Connect's terms, so the adapter calls flate2
//! directly, with a cap on what decompression may produce.

use std::io::{Read, Write};

use bytes::Bytes;

/// A content coding this server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
}

/// What this server accepts, in the words of an `accept-encoding` header.
pub const ACCEPTED: &str = "gzip";

impl Encoding {
    /// A coding named in a header or query parameter (`None` if unsupported).
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "" | "identity" => Some(Self::Identity),
            "gzip" => Some(Self::Gzip),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::Gzip => "gzip",
        }
    }
}

/// The coding to answer with: the first supported one in the client's
/// `accept-encoding` (an ordered list; a `q=0` entry is a refusal), or, when
/// the client sent none, the coding of its request, as Connect specifies.
pub fn negotiate(accept_encoding: Option<&str>, request: Encoding) -> Encoding {
    let Some(accept) = accept_encoding else { return request };
    accept
        .split(',')
        .filter_map(|entry| {
            let mut parts = entry.split(';');
            let name = parts.next()?.trim();
            let refused = parts.any(|p| p.trim().strip_prefix("q=").is_some_and(|q| q.trim().parse() == Ok(0.0)));
            (!refused).then_some(name)
        })
        .find_map(Encoding::parse)
        .unwrap_or(Encoding::Identity)
}

/// `data` compressed with gzip (flate2's default level, as tonic uses).
pub fn gzip(data: &[u8]) -> Bytes {
    let mut encoder = flate2::write::GzEncoder::new(Vec::with_capacity(data.len() / 2 + 32), Default::default());
    encoder.write_all(data).expect("writing to a Vec does not fail");
    encoder.finish().expect("writing to a Vec does not fail").into()
}

/// Why a compressed message could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum GunzipError {
    /// It decompresses to more than the limit: a message too large, or a
    /// zip bomb, refused once the limit is passed rather than in memory.
    TooLarge { limit: usize },
    /// It is not gzip, or is cut short.
    Invalid(String),
}

/// `data` decompressed, producing at most `limit` bytes.
pub fn gunzip(data: &[u8], limit: usize) -> Result<Bytes, GunzipError> {
    let mut out = Vec::with_capacity(limit.min(data.len().saturating_mul(4)));
    let decoder = flate2::read::GzDecoder::new(data);
    decoder
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| GunzipError::Invalid(format!("not valid gzip data: {e}")))?;
    if out.len() > limit {
        return Err(GunzipError::TooLarge { limit });
    }
    Ok(out.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let data = b"hello hello hello hello".repeat(100);
        let packed = gzip(&data);
        assert!(packed.len() < data.len() / 10);
        assert_eq!(gunzip(&packed, data.len()).unwrap(), Bytes::from(data));
    }

    #[test]
    fn a_bomb_stops_at_the_limit() {
        // 64 MiB of zeros compress to about 64 KiB.
        let bomb = gzip(&vec![0u8; 64 << 20]);
        assert!(bomb.len() < 100 << 10, "{}", bomb.len());
        assert_eq!(gunzip(&bomb, 4 << 20), Err(GunzipError::TooLarge { limit: 4 << 20 }));
        assert_eq!(gunzip(&gzip(b"12345"), 5).unwrap(), Bytes::from_static(b"12345"));
        assert_eq!(gunzip(&gzip(b"123456"), 5), Err(GunzipError::TooLarge { limit: 5 }));
    }

    #[test]
    fn garbage_and_truncation_are_invalid() {
        assert!(matches!(gunzip(b"plain text", 100), Err(GunzipError::Invalid(_))));
        let packed = gzip(b"some text that is long enough");
        assert!(matches!(gunzip(&packed[..packed.len() - 6], 100), Err(GunzipError::Invalid(_))));
    }

    #[test]
    fn negotiation_follows_the_clients_order() {
        use Encoding::*;
        assert_eq!(negotiate(Some("gzip, br"), Identity), Gzip);
        assert_eq!(negotiate(Some("br, gzip"), Identity), Gzip, "unsupported ones are skipped");
        assert_eq!(negotiate(Some("br"), Gzip), Identity);
        assert_eq!(negotiate(Some("identity, gzip"), Identity), Identity);
        assert_eq!(negotiate(Some("gzip;q=0, identity"), Gzip), Identity);
        assert_eq!(negotiate(Some("gzip;q=0.5"), Identity), Gzip);
        assert_eq!(negotiate(None, Gzip), Gzip, "no header: the request's coding");
        assert_eq!(negotiate(None, Identity), Identity);
        assert_eq!(Encoding::parse("GZIP"), Some(Gzip));
        assert_eq!(Encoding::parse("zstd"), None);
    }
}
