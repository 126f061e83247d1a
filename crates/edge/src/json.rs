//! Deterministic JSON: objects with sorted keys, whatever map type serde_json was built
//! with (its `preserve_order` feature may be switched on by any crate in a build), so a
//! render is byte-for-byte the same in every build and the committed files stay stable.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

/// Pretty-printed, keys sorted, ending in a newline.
pub(crate) fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(&Sorted(value)).expect("a JSON value always serializes");
    text.push('\n');
    text
}

struct Sorted<'a>(&'a Value);

impl Serialize for Sorted<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(object) => {
                let mut entries: Vec<_> = object.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    map.serialize_entry(key, &Sorted(value))?;
                }
                map.end()
            }
            Value::Array(items) => serializer.collect_seq(items.iter().map(Sorted)),
            scalar => scalar.serialize(serializer),
        }
    }
}

/// The `{name}` placeholders in `text`: braces around a name that starts with a letter
/// and has only letters, digits, `-` and `_` (so a regex quantifier like `{2,3}` is not one).
pub(crate) fn placeholders(text: &str) -> impl Iterator<Item = &str> {
    text.split('{').skip(1).filter_map(|after| {
        let name = after.split_once('}')?.0;
        let mut chars = name.chars();
        let first = chars.next()?;
        (first.is_ascii_alphabetic() && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .then_some(name)
    })
}

/// Every string inside `value`, depth first.
pub(crate) fn strings(value: &Value) -> Vec<&str> {
    match value {
        Value::String(text) => vec![text.as_str()],
        Value::Array(items) => items.iter().flat_map(strings).collect(),
        Value::Object(object) => object.values().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

/// `value` with every placeholder in its strings replaced by `value_of(name)`.
pub(crate) fn expand<E>(value: &Value, value_of: &impl Fn(&str) -> Result<String, E>) -> Result<Value, E> {
    Ok(match value {
        Value::String(text) => {
            let mut out = text.clone();
            for name in placeholders(text) {
                out = out.replace(&format!("{{{name}}}"), &value_of(name)?);
            }
            Value::String(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|item| expand(item, value_of)).collect::<Result<_, _>>()?),
        Value::Object(object) => Value::Object(
            object.iter().map(|(key, item)| Ok((key.clone(), expand(item, value_of)?))).collect::<Result<_, E>>()?,
        ),
        scalar => scalar.clone(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn placeholders_are_braced_names_only() {
        let found: Vec<_> = placeholders("{auth}/verify {2,3} {} {lang-v1} {9x} {a b}").collect();
        assert_eq!(found, ["auth", "lang-v1"]);
    }

    #[test]
    fn pretty_sorts_keys_at_every_depth() {
        let text = pretty(&json!({"b": 1, "a": {"d": [{"z": 1, "y": 2}], "c": true}}));
        assert_eq!(
            text,
            "{\n  \"a\": {\n    \"c\": true,\n    \"d\": [\n      {\n        \"y\": 2,\n        \"z\": 1\n      }\n    ]\n  },\n  \"b\": 1\n}\n"
        );
    }

    #[test]
    fn expand_replaces_every_placeholder_in_nested_strings() {
        let value = json!({"x": ["{a}/p", 3], "y": {"z": "{a}{b}"}});
        let out = expand(&value, &|name: &str| Ok::<_, ()>(format!("<{name}>"))).unwrap();
        assert_eq!(out, json!({"x": ["<a>/p", 3], "y": {"z": "<a><b>"}}));
    }
}
