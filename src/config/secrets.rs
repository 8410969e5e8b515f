//! An endpoint's `secrets` list, read by hand rather than by serde: serde's message for a
//! value of the wrong type quotes it, and a secret must never be quoted.

use super::*;

pub(super) const SECRET_FIELDS: [&str; 5] = ["id", "env", "value", "public_key", "optional"];

/// The `secrets` list, read by hand: serde's message for a value of the wrong type quotes
/// it (``invalid type: integer `918273645501928374` ``: an all-digit token templated into
/// YAML unquoted is a number), and a secret may be pasted into any field of the list. Every
/// error here names the field and the JSON type, never a value, nor an unknown key (YAML
/// reads `{value:TOKEN}` as one key).
pub(super) fn raw_secrets(field: &str, v: &Value) -> Result<Vec<RawSecret>, ConfigError> {
    let Value::Array(list) = v else {
        return err(
            format!("{field}.secrets"),
            format!("must be a list of secrets, not {}", json_kind(v)),
        );
    };
    let mut out = Vec::with_capacity(list.len());
    for (i, entry) in list.iter().enumerate() {
        let f = format!("{field}.secrets[{i}]");
        let Value::Object(map) = entry else {
            return err(
                f,
                format!(
                    "must be an object (an id, and env, value or public_key), not {} (not shown)",
                    json_kind(entry)
                ),
            );
        };
        if let Some(key) = map.keys().find(|k| !SECRET_FIELDS.contains(&k.as_str())) {
            let key = match looks_like_name(key) {
                true => format!("`{key}`"),
                false => "(not shown: it may hold a secret)".into(),
            };
            return err(
                f,
                format!(
                    "has an unknown field {key}; expected id, env, value, public_key, optional"
                ),
            );
        }
        let text = |name: &str| match map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => err(
                format!("{f}.{name}"),
                format!("must be a string, not {} (not shown)", json_kind(other)),
            ),
        };
        let Some(id) = text("id")? else {
            return err(format!("{f}.id"), "required");
        };
        let optional = match map.get("optional") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                return err(
                    format!("{f}.optional"),
                    format!("must be true or false, not {}", json_kind(other)),
                )
            }
        };
        out.push(RawSecret {
            id,
            env: text("env")?,
            value: text("value")?,
            public_key: text("public_key")?,
            optional,
        });
    }
    Ok(out)
}

pub(super) fn build_secrets(
    field: &str,
    raw: &Value,
    scheme: &Scheme,
    env: &dyn Fn(&str) -> Option<String>,
    skipped: &mut Vec<String>,
) -> Result<Vec<Secret>, ConfigError> {
    let raw = raw_secrets(field, raw)?;
    if raw.is_empty() || raw.len() > MAX_SECRETS {
        return err(format!("{field}.secrets"), "must list 1 to 8 secrets");
    }
    let mut secrets: Vec<Secret> = Vec::with_capacity(raw.len());
    for (i, s) in raw.iter().enumerate() {
        let f = format!("{field}.secrets[{i}]");
        if !valid_name(&s.id) {
            return err(
                format!("{f}.id"),
                "must be 1-64 characters of letters, digits, '-', '_'",
            );
        }
        if secrets.iter().any(|x| x.id == s.id) {
            return err(format!("{f}.id"), format!("duplicate secret id {:?}", s.id));
        }
        let (text, source) = match (&s.env, &s.value, &s.public_key) {
            (Some(var), None, None) => match env(var) {
                Some(v) if !v.is_empty() => (v, Field::Env),
                _ if s.optional => {
                    skipped.push(format!(
                        "{f} ({}): optional, and {} is not set: skipped",
                        s.id,
                        shown_var(var)
                    ));
                    continue;
                }
                _ => {
                    return err(
                        format!("{f}.env"),
                        format!("environment variable {} is not set in the VM (vm_config.environment_variables)", shown_var(var)),
                    )
                }
            },
            (None, Some(_), None) | (None, None, Some(_)) if s.optional => {
                return err(format!("{f}.optional"), "applies only to a secret read from \"env\"")
            }
            (None, Some(v), None) => (v.clone(), Field::Value),
            (None, None, Some(v)) => (v.clone(), Field::PublicKey),
            _ => {
                return err(
                    f,
                    format!(
                        "needs exactly one of \"env\", \"value\" or \"public_key\"; this endpoint wants {}",
                        crate::keys::wanted(scheme.algorithm, scheme.secret_encoding)
                    ),
                )
            }
        };
        // The examples' placeholders (envoy/istio/secret.yaml.example) are public: a copy
        // applied unedited must not make one a signing secret.
        if text.trim().to_ascii_lowercase().starts_with("replace-me") {
            return err(
                &f,
                "is a placeholder from the project's examples, not a secret: set the real one",
            );
        }
        let secret = Secret::from_text(
            s.id.clone(),
            scheme.algorithm,
            scheme.secret_encoding,
            &text,
            source,
        )
        .map_err(|why| ConfigError::new(&f, format!("the key {why}")))?;
        secrets.push(secret);
    }
    if secrets.is_empty() {
        return err(
            format!("{field}.secrets"),
            "every secret is optional and none is set: set at least one",
        );
    }
    // Every offered public-key signature is verified against every public key: bounded
    // here, so that a forged delivery's cost is known before any arrives.
    let public = secrets.iter().filter(|s| s.is_public_key()).count();
    if public > crate::scheme::signature::MAX_PUBLIC_KEYS {
        return err(
            format!("{field}.secrets"),
            format!(
                "lists {public} public keys; at most {} (a rotation needs two): each offered signature is verified against every one",
                crate::scheme::signature::MAX_PUBLIC_KEYS
            ),
        );
    }
    Ok(secrets)
}
