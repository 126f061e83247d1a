//! Who may be greeted.

/// Longest name, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// Trims `raw` and checks it is 1–100 characters with no control characters.
pub fn validate(raw: &str) -> Result<&str, String> {
    let name = raw.trim();
    if name.is_empty() {
        return Err("name is required: send a non-empty name, e.g. {\"name\": \"Ada\"}".into());
    }
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(format!("name is {chars} characters long; at most {MAX_NAME_CHARS} are allowed"));
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Err(format!("name contains the control character {:?}; remove it", c));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_trimmed_unicode_names() {
        assert_eq!(validate("  Ada ").unwrap(), "Ada");
        assert_eq!(validate("Zoë 李").unwrap(), "Zoë 李");
        assert!(validate(&"é".repeat(100)).is_ok(), "limit counts characters, not bytes");
    }

    #[test]
    fn refuses_empty_long_and_control_names() {
        assert!(validate("   ").unwrap_err().contains("required"));
        assert!(validate(&"a".repeat(101)).unwrap_err().contains("101"));
        assert!(validate("Ada\u{0}").unwrap_err().contains("control"));
        assert!(validate("A\nda").unwrap_err().contains("control"));
    }
}
