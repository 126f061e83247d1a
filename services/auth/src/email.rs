//! Email addresses as account names.
//!
//! Addresses are trimmed and lowercased before they are stored or looked
//! up, so `Ada@Example.com` and `ada@example.com ` are one account (the
//! column is unique). Validation is deliberately loose — one `@`, a local
//! part, a dotted domain, no whitespace or control characters — because
//! the only real check is a message arriving; international addresses
//! (`zoë@exämple.org`) and unusual but legal local parts (`o'brien+x`) pass.

/// Longest address (RFC 5321's path limit, in bytes).
pub const MAX_BYTES: usize = 254;

/// The normalised address, or why it is not one.
pub fn normalize(raw: &str) -> Result<String, String> {
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return Err("email is required".into());
    }
    if email.len() > MAX_BYTES {
        return Err(format!("email is {} bytes long; at most {MAX_BYTES} are allowed", email.len()));
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("email must not contain spaces or control characters".into());
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err("email must contain an @, e.g. ada@example.com".into());
    };
    if local.is_empty() || local.len() > 64 {
        return Err("email needs 1–64 bytes before the @".into());
    }
    let labels_ok = domain.split('.').all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'));
    if domain.contains('@')
        || !domain.contains('.')
        || !labels_ok
        || domain.chars().any(|c| "()<>[]\\,;:\"".contains(c))
    {
        return Err("email must end in a domain name such as example.com".into());
    }
    Ok(email)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_lowercases() {
        assert_eq!(normalize("  Ada.Lovelace@Example.COM ").unwrap(), "ada.lovelace@example.com");
        assert_eq!(normalize("ZOË@Exämple.org").unwrap(), "zoë@exämple.org");
        assert_eq!(normalize("O'Brien+x\";--@example.com").unwrap(), "o'brien+x\";--@example.com");
    }

    #[test]
    fn refuses_what_cannot_be_an_address() {
        for bad in [
            "",
            "   ",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a da@example.com",
            "ada@@example.com",
            "ada@example..com",
            "ada@-example.com",
            "ada@exa\u{0}mple.com",
        ] {
            assert!(normalize(bad).is_err(), "{bad:?}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(normalize(&long).unwrap_err().contains("254"));
    }
}
