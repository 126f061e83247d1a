//! Message templates: text with a `{name}` placeholder.

pub const PLACEHOLDER: &str = "{name}";
/// Longest template, in characters.
pub const MAX_CHARS: usize = 500;

/// Checks a template: at most 500 characters, contains `{name}`, no
/// control characters other than newlines and tabs.
pub fn validate(template: &str) -> Result<(), String> {
    let chars = template.chars().count();
    if chars > MAX_CHARS {
        return Err(format!("the template is {chars} characters long; at most {MAX_CHARS} are allowed"));
    }
    if !template.contains(PLACEHOLDER) {
        return Err(format!("the template must contain the placeholder {PLACEHOLDER}"));
    }
    if template.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err("the template must not contain control characters".into());
    }
    Ok(())
}

/// The template with every `{name}` replaced. The name is inserted once;
/// braces in it are not expanded again.
pub fn render(template: &str, name: &str) -> String {
    template.replace(PLACEHOLDER, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates() {
        assert!(validate("Hello, {name}!").is_ok());
        assert!(validate(&format!("{}{{name}}", "é".repeat(494))).is_ok(), "500 characters, more bytes");
        assert!(validate(&format!("{}{{name}}", "é".repeat(495))).unwrap_err().contains("501"));
        assert!(validate("Hello!").unwrap_err().contains("{name}"));
        assert!(validate("Hello, {Name}!").is_err());
        assert!(validate("Hi {name}\u{7}").unwrap_err().contains("control"));
        assert!(validate("Hi\n\t{name}").is_ok());
    }

    #[test]
    fn renders_once() {
        assert_eq!(render("{name}, {name}!", "Ada"), "Ada, Ada!");
        assert_eq!(render("Hello, {name}!", "{name}"), "Hello, {name}!");
    }
}
