//! One-line logs on standard error, through the `log` facade: the service's own lines at
//! `--log-level`, its dependencies' (redis, hyper) at warn and above.
//!
//! Never `eprintln!`: it panics when stderr is gone (a closed pipe), and a log line must not
//! take a request down with it. Keys are SHA-256 hex hashes made by the filter; they appear
//! in debug lines only. Tokens and request bodies are never logged.

use std::io::Write;

use log::{Level, LevelFilter, Log, Metadata, Record};

struct Stderr {
    level: LevelFilter,
}

impl Log for Stderr {
    fn enabled(&self, m: &Metadata) -> bool {
        let ours = m.target().starts_with("webhook_guard_cache");
        m.level() <= if ours { self.level } else { LevelFilter::Warn }
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match record.level() {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug | Level::Trace => "debug",
        };
        let target = record.target();
        let _ = if target.starts_with("webhook_guard_cache") {
            writeln!(
                std::io::stderr().lock(),
                "webhook-guard-cache {level}: {}",
                record.args()
            )
        } else {
            writeln!(
                std::io::stderr().lock(),
                "webhook-guard-cache {level}: {target}: {}",
                record.args()
            )
        };
    }

    fn flush(&self) {}
}

/// Installs the logger (once; later calls only change nothing).
pub fn init(level: LevelFilter) {
    if log::set_boxed_logger(Box::new(Stderr { level })).is_ok() {
        log::set_max_level(level.max(LevelFilter::Warn));
    }
}
