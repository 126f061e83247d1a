//! Checks on client-supplied text that more than one service applies the
//! same way.

/// Longest name, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// Who may be greeted: `raw` trimmed, 1–100 characters (not bytes), no
/// control characters. Returns the trimmed name.
pub fn name(raw: &str) -> Result<&str, String> {
    let name = raw.trim();
    if name.is_empty() {
        return Err("name is required: send a non-empty name, e.g. Ada".into());
    }
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(format!("name is {chars} characters long; at most {MAX_NAME_CHARS} are allowed"));
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Err(format!("name contains the control character {c:?}; remove it"));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_trimmed_unicode_names() {
        assert_eq!(name("  Ada ").unwrap(), "Ada");
        assert_eq!(name("Zoë 李").unwrap(), "Zoë 李");
        assert_eq!(name("Robert'); DROP TABLE--").unwrap(), "Robert'); DROP TABLE--");
        assert!(name(&"é".repeat(100)).is_ok(), "limit counts characters, not bytes");
    }

    #[test]
    fn refuses_empty_long_and_control_names() {
        assert!(name("   ").unwrap_err().contains("required"));
        assert!(name(&"a".repeat(101)).unwrap_err().contains("101"));
        assert!(name("Ada\u{0}").unwrap_err().contains("control"));
        assert!(name("A\nda").unwrap_err().contains("control"));
    }
}
