//! The command line and the HTTP server around [`crate::api`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use crate::api;
use clap::Parser;
use log::{error, info, warn, LevelFilter};

use crate::logging;
use crate::memory::{self, MemoryStore};
use crate::metrics::Metrics;
use crate::redis_store::RedisStore;
use crate::store::Store;

/// How long a client may take to send its request headers, and then its body.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// `webhook-guard-cache`'s command line. Every flag can also come from the environment, so
/// a Redis URL with its password can come from a Kubernetes Secret rather than argv.
#[derive(Debug, Parser)]
#[command(
    name = "webhook-guard-cache",
    version,
    about = "The deduplication service of webhook-guard: claim, commit, release over HTTP.",
    after_help = "Prints `listening on ADDR` on standard error once ready. Redis need not be up at \
start: until it answers, /healthz and the operations answer 503. SIGTERM or SIGINT stops the \
service, letting requests in progress finish (5 s at most)."
)]
struct Options {
    /// Address to serve on, e.g. 127.0.0.1:8081 (port 0: any free port).
    #[arg(long, env = "WEBHOOK_GUARD_CACHE_LISTEN")]
    listen: String,
    /// Keep claims in Redis (redis://[:password@]host:port/db); shared by every instance
    /// pointing at it.
    #[arg(
        long,
        env = "WEBHOOK_GUARD_CACHE_REDIS",
        hide_env_values = true,
        conflicts_with = "redis_cluster"
    )]
    redis: Option<String>,
    /// The same on a Redis Cluster: comma-separated seed nodes.
    #[arg(long, env = "WEBHOOK_GUARD_CACHE_REDIS_CLUSTER", hide_env_values = true, value_delimiter = ',', value_parser = non_empty)]
    redis_cluster: Vec<String>,
    /// Longest wait for Redis per operation, connecting included. Keep it below the
    /// filter's idempotency.timeout_ms (default 250), so a slow Redis is answered 503
    /// before the filter stops waiting.
    #[arg(long, env = "WEBHOOK_GUARD_CACHE_REDIS_TIMEOUT_MS", default_value_t = 200,
          value_parser = clap::value_parser!(u64).range(1..=60_000))]
    redis_timeout_ms: u64,
    /// Memory backend (the default): most keys held. When full, claims answer 503
    /// {"error":"capacity"} until entries expire (fail closed: the sender retries, nothing
    /// runs twice).
    #[arg(long, env = "WEBHOOK_GUARD_CACHE_MEMORY_MAX_ENTRIES", default_value_t = 1_000_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    memory_max_entries: u64,
    /// Log level; debug logs each operation with its key (a hash made by the filter). Tokens
    /// and bodies are never logged; dependencies log at warn and above.
    #[arg(long, env = "WEBHOOK_GUARD_CACHE_LOG_LEVEL", default_value = "info",
          value_parser = ["error", "warn", "info", "debug"])]
    log_level: String,
    /// Log lines as `text` (the default: a person reads them, and `listening on ADDR` stays
    /// the first line scripts wait for) or `json` (one object a line, for a log pipeline:
    /// `ts`, `level`, a stable `event`, `msg`, and the event's fields).
    #[arg(long, env = "WEBHOOK_GUARD_CACHE_LOG_FORMAT", default_value = "text",
          value_parser = ["text", "json"])]
    log_format: String,
}

/// A seed node: trimmed; empty entries (`a,,b`, a trailing comma) are dropped by `cluster`.
fn non_empty(s: &str) -> Result<String, String> {
    Ok(s.trim().to_string())
}

impl Options {
    fn cluster(&self) -> Option<Vec<String>> {
        let urls: Vec<String> = self
            .redis_cluster
            .iter()
            .filter(|u| !u.is_empty())
            .cloned()
            .collect();
        (!urls.is_empty()).then_some(urls)
    }

    fn level(&self) -> LevelFilter {
        self.log_level.parse().unwrap_or(LevelFilter::Info)
    }

    fn format(&self) -> logging::Format {
        logging::Format::parse(&self.log_format).unwrap_or(logging::Format::Text)
    }

    fn max_entries(&self) -> usize {
        usize::try_from(self.memory_max_entries).unwrap_or(usize::MAX)
    }
}

/// The command line entry point of `webhook-guard-cache`.
pub fn main() {
    let options = Options::parse();
    logging::init(options.level(), options.format());
    if !options.redis_cluster.is_empty() && options.cluster().is_none() {
        error!(event = "start_failed"; "--redis-cluster needs at least one URL");
        std::process::exit(2);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            error!(event = "start_failed"; "cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    let result = runtime.block_on(async {
        match (&options.redis, &options.cluster()) {
            (Some(url), _) => {
                let store =
                    RedisStore::single(url, Duration::from_millis(options.redis_timeout_ms))?;
                check_redis(&store, "redis").await;
                serve(&options, store).await
            }
            (_, Some(urls)) => {
                let store =
                    RedisStore::cluster(urls, Duration::from_millis(options.redis_timeout_ms))?;
                check_redis(&store, "redis-cluster").await;
                serve(&options, store).await
            }
            _ => {
                let store = Arc::new(MemoryStore::new(options.max_entries()));
                let sweeper = Arc::clone(&store);
                tokio::spawn(async move {
                    let mut tick = tokio::time::interval(Duration::from_secs(1));
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    loop {
                        tick.tick().await;
                        sweeper.sweep_tick(Instant::now(), memory::SWEEP_BUDGET);
                    }
                });
                info!(event = "backend_ready", backend = "memory", max_entries = options.max_entries(); "backend: memory, at most {} entries", options.max_entries());
                serve(&options, store).await
            }
        }
    });
    if let Err(e) = result {
        error!(event = "start_failed"; "{e}");
        std::process::exit(1);
    }
}

/// Logs whether Redis answers at start; the service starts either way.
async fn check_redis(store: &RedisStore, name: &str) {
    match store.ping().await {
        Ok(()) => info!(event = "backend_ready", backend = name; "backend: {name}, reachable"),
        Err(e) => {
            warn!(event = "backend_unreachable", backend = name, error:% = e; "backend: {name}, not reachable yet ({e}); answering 503 until it is")
        }
    }
}

async fn serve<S: Store>(o: &Options, store: S) -> Result<(), String> {
    let state = Arc::new((store, Metrics::default()));
    let listener = TcpListener::bind(&o.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", o.listen))?;
    let addr: SocketAddr = listener.local_addr().map_err(|e| e.to_string())?;
    // The line scripts and tests wait for; printed whatever the log level.
    logging::listening(&addr.to_string());

    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown_signal());
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        error!(event = "accept_failed", error:% = e; "accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let state = Arc::clone(&state);
                let service = service_fn(move |req| {
                    let state = Arc::clone(&state);
                    async move { Ok::<_, hyper::Error>(respond(&state.0, &state.1, req).await) }
                });
                // A client that never finishes its headers or its body must not hold a task
                // and a socket for ever (the filter's own calls take milliseconds).
                let conn = http1::Builder::new()
                    .keep_alive(true)
                    .timer(TokioTimer::new())
                    .header_read_timeout(CLIENT_TIMEOUT)
                    .serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    info!(event = "shutting_down"; "shutting down");
    if tokio::time::timeout(Duration::from_secs(5), graceful.shutdown())
        .await
        .is_err()
    {
        warn!(event = "shutdown_timeout"; "connections still open after 5 s; stopping anyway");
    }
    info!(event = "stopped"; "stopped");
    Ok(())
}

async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}

async fn respond<S: Store>(
    store: &S,
    metrics: &Metrics,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    // Read at most one byte more than any path allows (a batch), so an oversized body is
    // answered 413; the single-op paths check their own, smaller limit.
    let collected = tokio::time::timeout(
        CLIENT_TIMEOUT,
        Limited::new(req.into_body(), api::MAX_BATCH_BYTES + 1).collect(),
    )
    .await;
    let bytes;
    let body = match collected {
        Ok(Ok(b)) => {
            bytes = b.to_bytes();
            api::Body::Bytes(&bytes)
        }
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => api::Body::TooLarge,
        // Broken off, or too slow (CLIENT_TIMEOUT).
        Ok(Err(_)) | Err(_) => api::Body::Broken,
    };
    let answer = api::handle(store, metrics, method.as_str(), &path, body).await;
    let mut response = Response::new(Full::new(Bytes::from(answer.body)));
    *response.status_mut() = hyper::StatusCode::from_u16(answer.status)
        .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(answer.content_type),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(a: &[&str]) -> Result<Options, clap::Error> {
        Options::try_parse_from(std::iter::once("webhook-guard-cache").chain(a.iter().copied()))
    }

    #[test]
    fn command_line() {
        let o = parse(&[
            "--listen",
            "127.0.0.1:0",
            "--memory-max-entries",
            "5",
            "--log-level",
            "debug",
        ])
        .unwrap();
        assert_eq!((o.listen.as_str(), o.max_entries()), ("127.0.0.1:0", 5));
        assert_eq!(o.level(), LevelFilter::Debug);
        assert_eq!(o.format(), logging::Format::Text);
        let o = parse(&["--listen", ":1", "--log-format", "json"]).unwrap();
        assert_eq!(o.format(), logging::Format::Json);
        let o = parse(&["--listen", ":1"]).unwrap();
        assert_eq!((o.max_entries(), o.level()), (1_000_000, LevelFilter::Info));
        assert_eq!(o.redis_timeout_ms, 200);
        assert!(o.redis.is_none() && o.cluster().is_none());
        let o = parse(&[
            "--listen",
            ":1",
            "--redis-cluster",
            "redis://a:1, redis://b:2,",
        ])
        .unwrap();
        assert_eq!(
            o.cluster().unwrap(),
            vec!["redis://a:1".to_string(), "redis://b:2".to_string()]
        );
        assert!(parse(&["--listen", ":1", "--redis-cluster", ","])
            .unwrap()
            .cluster()
            .is_none());
        for bad in [
            &["--redis", "redis://x"][..],
            &["--listen"],
            &["--listen", "a", "--memory-max-entries", "0"],
            &["--listen", "a", "--memory-max-entries", "many"],
            &["--listen", "a", "--redis", "r", "--redis-cluster", "c"],
            &["--listen", "a", "--redis-timeout-ms", "0"],
            &["--listen", "a", "--log-level", "loud"],
            &["--listen", "a", "--log-format", "yaml"],
            &["--listen", "a", "--frobnicate"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
