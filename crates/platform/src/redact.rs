//! Keeping secrets that travel in URLs out of storage, logs and answers.
//!
//! URLs clients send carry credentials more often than anyone would like:
//! `https://user:password@host/`, `?token=…`, `?X-Amz-Signature=…`, a
//! fragment holding an OAuth token. Every place that stores, logs or
//! returns a client's URL keeps [`url()`]'s form: scheme, host, port and path.

/// `raw` without userinfo, query or fragment; an unparseable URL is replaced
/// whole, since nothing in it can be told apart from a secret.
pub fn url(raw: &str) -> String {
    match url::Url::parse(raw.trim()) {
        Ok(u) => parsed(&u),
        Err(_) => "<unparseable URL>".to_owned(),
    }
}

/// [`url()`] for a parsed URL.
pub fn parsed(u: &url::Url) -> String {
    let mut u = u.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

#[cfg(test)]
mod tests {
    use super::url;

    #[test]
    fn credentials_queries_and_fragments_are_dropped() {
        assert_eq!(url("http://alice:S3cretPw@host/x?token=abc123"), "http://host/x");
        assert_eq!(url("https://alice@example.com:8443/a/b#access_token=t"), "https://example.com:8443/a/b");
        assert_eq!(url("  https://example.com/  "), "https://example.com/");
        assert_eq!(url("https://example.com/path?"), "https://example.com/path");
        assert_eq!(url("not a url with a S3cret"), "<unparseable URL>");
    }
}
