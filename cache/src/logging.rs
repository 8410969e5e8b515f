//! One-line logs on standard error, through the `log` facade: the service's own lines at
//! `--log-level`, its dependencies' (redis, hyper) at warn and above.
//!
//! Two formats (`--log-format`): `text` (the default: `webhook-guard-cache LEVEL: message`,
//! and a bare `listening on ADDR` first line that scripts wait for) and `json` (one object
//! per line, for a log pipeline: `ts`, `level`, `event`, `msg`, then the event's fields).
//! Every line the service writes has an `event` from [`EVENTS`]; its own lines name theirs
//! with the `event` key (`info!(event = "stopped"; "stopped")`), a dependency's line is
//! `dependency` with its `target`.
//!
//! Never `eprintln!`: it panics when stderr is gone (a closed pipe), and a log line must not
//! take a request down with it. Keys are SHA-256 hex hashes made by the filter; they appear
//! in debug lines only. Tokens, request bodies and Redis URLs (which may hold a password)
//! are never logged: no log call passes them, in either format.

use std::fmt::Write as _;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use log::kv::{Key, Value, VisitSource};
use log::{Level, LevelFilter, Log, Metadata, Record};

/// Every `event` a line can carry: a stable name per kind of line, for log queries.
pub const EVENTS: [&str; 12] = [
    // The bound address, once ready (`addr`); printed whatever the level.
    "listening",
    // At start: the backend in use (`backend`; memory: `max_entries`) and whether it answers.
    "backend_ready",
    "backend_unreachable",
    // A claim refused because the memory backend is full (`op`).
    "capacity_refused",
    // Redis failed or timed out for an operation (`op`, `error`).
    "backend_error",
    // Debug: one operation and its result (`op`, `key` (the filter's hash), `result`).
    "operation",
    "accept_failed",
    "start_failed",
    "shutting_down",
    "shutdown_timeout",
    "stopped",
    // A line of a dependency (`target`: redis, hyper, ...), warn and above.
    "dependency",
];

/// How lines are written (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "text" => Some(Format::Text),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}

struct Stderr {
    level: LevelFilter,
    format: Format,
}

fn ours(target: &str) -> bool {
    target.starts_with("webhook_guard_cache")
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Error => "error",
        Level::Warn => "warn",
        Level::Info => "info",
        Level::Debug | Level::Trace => "debug",
    }
}

impl Log for Stderr {
    fn enabled(&self, m: &Metadata) -> bool {
        m.level()
            <= if ours(m.target()) {
                self.level
            } else {
                LevelFilter::Warn
            }
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = level_name(record.level());
        let target = record.target();
        let line = match self.format {
            Format::Text if ours(target) => {
                format!("webhook-guard-cache {level}: {}", record.args())
            }
            Format::Text => format!("webhook-guard-cache {level}: {target}: {}", record.args()),
            Format::Json => {
                let mut fields = Fields::default();
                let _ = record.key_values().visit(&mut fields);
                let event = match fields.event.take() {
                    Some(e) if ours(target) => e,
                    // A dependency's key-values are not ours to trust as an event name.
                    _ if ours(target) => "unnamed".to_string(),
                    _ => {
                        fields.push("target", &Value::from(target));
                        "dependency".to_string()
                    }
                };
                json_line(level, &event, &record.args().to_string(), &fields.json)
            }
        };
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }

    fn flush(&self) {}
}

/// An event's fields, rendered as JSON members (`,"k":v`) as they are visited.
#[derive(Default)]
struct Fields {
    event: Option<String>,
    json: String,
}

impl Fields {
    fn push(&mut self, key: &str, value: &Value) {
        let rendered = if let Some(n) = value.to_u64() {
            n.to_string()
        } else if let Some(n) = value.to_i64() {
            n.to_string()
        } else if let Some(b) = value.to_bool() {
            b.to_string()
        } else {
            json_string(&value.to_string())
        };
        let _ = write!(self.json, ",{}:{rendered}", json_string(key));
    }
}

impl<'kvs> VisitSource<'kvs> for Fields {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), log::kv::Error> {
        match key.as_str() {
            "event" => self.event = Some(value.to_string()),
            // The fixed members cannot be overwritten by a field of the same name.
            "ts" | "level" | "msg" => {}
            k => self.push(k, &value),
        }
        Ok(())
    }
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string())
}

fn json_line(level: &str, event: &str, msg: &str, fields: &str) -> String {
    format!(
        r#"{{"ts":"{}","level":"{level}","event":{},"msg":{}{fields}}}"#,
        timestamp(SystemTime::now()),
        json_string(event),
        json_string(msg),
    )
}

/// RFC 3339 in UTC with milliseconds (`2026-12-07T04:37:00.123Z`), without a date crate.
fn timestamp(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

static FORMAT: std::sync::OnceLock<Format> = std::sync::OnceLock::new();

/// Installs the logger (once; later calls only change nothing).
pub fn init(level: LevelFilter, format: Format) {
    let _ = FORMAT.set(format);
    if log::set_boxed_logger(Box::new(Stderr { level, format })).is_ok() {
        log::set_max_level(level.max(LevelFilter::Warn));
    }
}

/// The line that says the service is ready, whatever the level: `listening on ADDR` (text),
/// or the `listening` event with `addr` (json).
pub fn listening(addr: &str) {
    let msg = format!("listening on {addr}");
    let line = match FORMAT.get().copied().unwrap_or(Format::Text) {
        Format::Text => msg,
        Format::Json => json_line(
            "info",
            "listening",
            &msg,
            &format!(",\"addr\":{}", json_string(addr)),
        ),
    };
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let at = |s: u64, ms: u64| {
            timestamp(UNIX_EPOCH + Duration::from_secs(s) + Duration::from_millis(ms))
        };
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(951_782_400, 7), "2000-02-29T00:00:00.007Z");
        assert_eq!(at(1_796_614_620, 123), "2026-12-07T03:37:00.123Z");
        assert_eq!(at(4_107_542_399, 999), "2100-02-28T23:59:59.999Z");
    }

    #[test]
    fn json_lines_parse_and_keep_their_fixed_members() {
        let mut f = Fields::default();
        f.push("op", &Value::from("claim"));
        f.push("max_entries", &Value::from(5u64));
        f.push("quote", &Value::from("a \"b\"\n\u{7}"));
        let line = json_line(
            "warn",
            "capacity_refused",
            "claim refused: \"full\"",
            &f.json,
        );
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["event"], "capacity_refused");
        assert_eq!(v["level"], "warn");
        assert_eq!(v["msg"], "claim refused: \"full\"");
        assert_eq!(v["max_entries"], 5);
        assert_eq!(v["quote"], "a \"b\"\n\u{7}");
        assert!(!line.contains('\n'));
    }

    #[test]
    fn formats() {
        assert_eq!(Format::parse("json"), Some(Format::Json));
        assert_eq!(Format::parse("text"), Some(Format::Text));
        assert_eq!(Format::parse("JSON"), None);
    }
}
