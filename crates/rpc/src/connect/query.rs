//! The query string of a Connect GET: `message`, `encoding`, `base64`,
//! `compression` and `connect`, in any order, among unknown parameters,
//! which are ignored as the specification requires.

use base64::{
    Engine,
    alphabet::URL_SAFE,
    engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig},
};

/// URL-safe base64, with or without padding (clients may send either).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct GetQuery {
    /// The message, percent-decoded (and still base64 when `base64` is set).
    pub message: Vec<u8>,
    pub encoding: Option<String>,
    pub base64: bool,
    pub compression: Option<String>,
    pub connect: Option<String>,
}

impl GetQuery {
    /// Parses `query` with the form rules Go's `url.ParseQuery` (and so
    /// connect-go) uses: `&`-separated pairs, `+` for a space, percent-decoding.
    /// The message is kept as bytes: it may be binary.
    pub fn parse(query: &str) -> Self {
        let mut q = Self::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = decode(value);
            let text = || String::from_utf8_lossy(&value).into_owned();
            match decode(key).as_slice() {
                b"message" => q.message = value.clone(),
                b"encoding" => q.encoding = Some(text()),
                b"base64" => q.base64 = value == b"1",
                b"compression" => q.compression = Some(text()),
                b"connect" => q.connect = Some(text()),
                _ => {}
            }
        }
        q
    }

    /// The message's bytes: base64-decoded when `base64=1` was sent.
    pub fn message(&self) -> Result<Vec<u8>, String> {
        if !self.base64 {
            return Ok(self.message.clone());
        }
        BASE64
            .decode(&self.message)
            .map_err(|e| format!("the message query parameter is not URL-safe base64 ({e}); with base64=1 it must be"))
    }
}

fn decode(s: &str) -> Vec<u8> {
    let spaced = s.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_spec_example_in_any_order() {
        let q = GetQuery::parse("message=%7B%22name%22%3A%22Buf%22%7D&encoding=json&connect=v1");
        assert_eq!(q.message, br#"{"name":"Buf"}"#);
        assert_eq!((q.encoding.as_deref(), q.connect.as_deref(), q.base64), (Some("json"), Some("v1"), false));
        let reordered = GetQuery::parse("connect=v1&utm_source=x&encoding=json&message=%7B%22name%22%3A%22Buf%22%7D");
        assert_eq!(q, reordered);
    }

    #[test]
    fn base64_with_or_without_padding_and_spaces_as_plus() {
        // "hi?" is aGk_ in URL-safe base64; "h" is aA== (padding percent-encoded).
        let q = GetQuery::parse("base64=1&message=aGk_&encoding=proto&compression=gzip");
        assert_eq!(q.message().unwrap(), b"hi?");
        assert_eq!(q.compression.as_deref(), Some("gzip"));
        assert_eq!(GetQuery::parse("base64=1&message=aA%3D%3D").message().unwrap(), b"h");
        assert_eq!(GetQuery::parse("base64=1&message=aA").message().unwrap(), b"h");
        assert!(GetQuery::parse("base64=1&message=a+b").message().is_err());
        assert_eq!(GetQuery::parse("message=a+b%2Bc").message().unwrap(), b"a b+c");
        assert!(!GetQuery::parse("base64=true&message=aA").base64, "only 1 means base64");
    }

    #[test]
    fn a_missing_message_is_the_empty_message() {
        let q = GetQuery::parse("encoding=json");
        assert_eq!(q.message().unwrap(), b"");
        assert_eq!(GetQuery::parse(""), GetQuery::default());
    }
}
