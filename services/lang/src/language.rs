//! Language tags and the fallback from what was asked to what exists.

/// What every greeting falls back to.
pub const FALLBACK: &str = "en";

/// Longest tag accepted (BCP 47 tags in use are far shorter).
const MAX_TAG_CHARS: usize = 35;

/// A lowercase tag like `fr` or `pt-br`, or why `raw` is not one.
pub fn parse(raw: &str) -> Result<String, String> {
    let tag = raw.trim().to_ascii_lowercase().replace('_', "-");
    let mut subtags = tag.split('-');
    let primary = subtags.next().unwrap_or("");
    let primary_ok = (2..=3).contains(&primary.len()) && primary.bytes().all(|b| b.is_ascii_lowercase());
    let rest_ok = subtags.all(|s| (1..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()));
    if tag.len() > MAX_TAG_CHARS || !primary_ok || !rest_ok {
        return Err("language must be a language tag such as en, fr or pt-BR".into());
    }
    Ok(tag)
}

/// Tags to try, most specific first: `pt-br` → `pt-br`, `pt`, then English.
pub fn candidates(tag: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut t = tag;
    loop {
        out.push(t.to_owned());
        match t.rsplit_once('-') {
            Some((shorter, _)) => t = shorter,
            None => break,
        }
    }
    if !out.iter().any(|c| c == FALLBACK) {
        out.push(FALLBACK.to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_normalised() {
        assert_eq!(parse(" pt-BR ").unwrap(), "pt-br");
        assert_eq!(parse("zh_Hant_TW").unwrap(), "zh-hant-tw");
        for bad in ["", "e", "english", "fr'; drop table languages;--", "fr-", "ü", "de-toolongsubtag"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn candidates_go_from_specific_to_english() {
        assert_eq!(candidates("pt-br"), ["pt-br", "pt", "en"]);
        assert_eq!(candidates("fr"), ["fr", "en"]);
        assert_eq!(candidates("en-gb"), ["en-gb", "en"]);
    }
}
