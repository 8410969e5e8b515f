//! Configuration errors: one field, one reason, and never a value from the configuration
//! (a secret may be anywhere in it).

use super::*;

/// What is wrong with the configuration: the field (`endpoints[0] (genesys).secrets[1].env`)
/// and why, never the value. Shown as `field: reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub field: String,
    pub reason: String,
}

impl ConfigError {
    pub fn new(field: impl std::fmt::Display, reason: impl std::fmt::Display) -> ConfigError {
        ConfigError {
            field: field.to_string(),
            reason: reason.to_string(),
        }
    }

    /// From the `field: reason` text of a module's own error (schema, CIDR, template).
    /// A payload schema's error under the endpoint's `field`, by its typed location: never
    /// by splitting its text, as a schema property may be named `a: b`.
    pub(super) fn under(
        field: impl std::fmt::Display,
        e: crate::payload::schema::SchemaError,
    ) -> ConfigError {
        ConfigError::new(format!("{field}.{}", e.field()), e.reason)
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

pub(super) fn err<T>(
    field: impl std::fmt::Display,
    msg: impl std::fmt::Display,
) -> Result<T, ConfigError> {
    Err(ConfigError::new(field, msg))
}

/// serde's message for a value of the wrong shape quotes it (`invalid type: string "..."`,
/// ``integer `5` ``), and a secret pasted into the wrong field must not reach the log: keep
/// what serde says was expected, drop every quoted string and every number, boolean or
/// character serde puts in backticks. Field names (in backticks too) stay. The secrets list
/// never reaches serde's messages ([`raw_secrets`]): this is the net for the other fields.
pub(super) fn shape_error(field: &str, e: &serde_json::Error) -> ConfigError {
    let text = e.to_string();
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '`'
            && ["integer ", "floating point ", "boolean ", "character "]
                .iter()
                .any(|kind| out.ends_with(kind))
        {
            out.push_str("(value not shown)");
            for c in chars.by_ref() {
                if c == '`' {
                    break;
                }
            }
            continue;
        }
        if c == '`' && out.ends_with("unknown field ") {
            let key: String = chars.by_ref().take_while(|&c| c != '`').collect();
            if looks_like_name(&key) {
                out.push_str(&format!("`{key}`"));
            } else {
                out.push_str("(name not shown)");
            }
            continue;
        }
        if c != '"' {
            out.push(c);
            continue;
        }
        out.push_str("(value not shown)");
        // Skip to the closing quote; serde writes the value with Debug escapes.
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => break,
                _ => {}
            }
        }
    }
    ConfigError::new(field, out.trim_start_matches(": "))
}

/// What kind of JSON value `v` is, for errors that must not show it.
pub(super) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Whether a key or a variable name the configuration gave may be shown: a letter or `_`,
/// then letters, digits, `_`. A secret pasted where a name belongs (into `env`, or as a key:
/// YAML reads `{value:TOKEN}` as one) is rarely that.
/// Whether an unknown key may be quoted in an error: it looks like a field name (lowercase
/// letters and `_`, as every field of this configuration is), not like a token (most have
/// digits or capitals: `ghp_...`, `whsec_...`, hex and base64).
pub(super) fn looks_like_name(s: &str) -> bool {
    (1..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

/// Whether an `env` value may be quoted: it looks like a conventional variable name, capitals
/// and digits in words joined by `_` (`GENESYS_WEBHOOK_SECRET`), which no secret generator
/// produces (hex, base64 and `whsec_`/`ghp_` tokens have lowercase letters; base32 has no
/// `_`). Anything else may be a secret pasted into `env`.
pub(super) fn looks_like_variable(s: &str) -> bool {
    s.len() <= 64
        && s.starts_with(|c: char| c.is_ascii_uppercase())
        && s.contains('_')
        && s.split('_').all(|w| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        })
}

pub(super) fn shown_var(var: &str) -> String {
    if looks_like_variable(var) {
        var.to_string()
    } else {
        "(not shown: not a conventional variable name, and it may be a secret pasted into \"env\")"
            .to_string()
    }
}
