//! The command line and the HTTP server around [`crate::api`].

use std::io::Write;
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
use crate::log::{self, error, info, warning, Level};
use crate::memory::{self, MemoryStore};
use crate::metrics::Metrics;
use crate::redis_store::RedisStore;
use crate::store::Store;

/// How long a client may take to send its request headers, and then its body.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

const USAGE: &str =
    "usage: webhook-guard-cache --listen ADDR [--redis URL | --redis-cluster URL,URL,...]
                           [--redis-timeout-ms MS] [--memory-max-entries N] [--log-level LEVEL]

  --listen ADDR             address to serve on, e.g. 127.0.0.1:8081 (port 0: any free port)
  --redis URL               keep claims in Redis (redis://[:password@]host:port/db, rediss:// for
                            TLS is not built in); shared by every instance pointing at it
  --redis-cluster URLS      the same on a Redis Cluster (comma-separated seed nodes)
  --redis-timeout-ms MS     longest wait for Redis per operation, connecting included;
                            default 200. Keep it below the filter's idempotency.timeout_ms
                            (default 250), so a slow Redis is answered 503 before the filter
                            stops waiting
  --memory-max-entries N    memory backend (the default): most keys held, default 1000000;
                            when full, claims answer 503 {\"error\":\"capacity\"} until entries
                            expire (fail closed: the sender retries, nothing runs twice)
  --log-level LEVEL         error, warn, info (default) or debug (debug logs each operation
                            with its key, a hash made by the filter)
  -h, --help                this text

Prints `listening on ADDR` on standard error once ready. Redis need not be up at start:
until it answers, /healthz and the operations answer 503. SIGTERM or SIGINT stops the
service, letting requests in progress finish (5 s at most).";

#[derive(Debug)]
struct Options {
    listen: String,
    redis: Option<String>,
    cluster: Option<Vec<String>>,
    redis_timeout: Duration,
    max_entries: usize,
    log_level: Level,
}

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        listen: String::new(),
        redis: None,
        cluster: None,
        redis_timeout: crate::redis_store::DEFAULT_TIMEOUT,
        max_entries: 1_000_000,
        log_level: Level::Info,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--listen" => o.listen = value()?,
            "--redis" => o.redis = Some(value()?),
            "--redis-cluster" => {
                let urls: Vec<String> = value()?
                    .split(',')
                    .map(str::trim)
                    .filter(|u| !u.is_empty())
                    .map(str::to_string)
                    .collect();
                if urls.is_empty() {
                    return Err("--redis-cluster needs at least one URL".into());
                }
                o.cluster = Some(urls);
            }
            "--redis-timeout-ms" => {
                let ms: u64 = value()?
                    .parse()
                    .ok()
                    .filter(|n| (1..=60_000).contains(n))
                    .ok_or("--redis-timeout-ms takes a number from 1 to 60000")?;
                o.redis_timeout = Duration::from_millis(ms);
            }
            "--memory-max-entries" => {
                o.max_entries = value()?
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or("--memory-max-entries takes a positive number")?
            }
            "--log-level" => {
                o.log_level =
                    Level::parse(&value()?).ok_or("--log-level takes error, warn, info or debug")?
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if o.listen.is_empty() {
        return Err("--listen is required".into());
    }
    if o.redis.is_some() && o.cluster.is_some() {
        return Err("give --redis or --redis-cluster, not both".into());
    }
    Ok(o)
}

/// The command line entry point of `webhook-guard-cache`.
pub fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        let _ = writeln!(std::io::stdout(), "{USAGE}");
        return;
    }
    let options = match parse_args(&args) {
        Ok(o) => o,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: {e}\n\n{USAGE}");
            std::process::exit(2);
        }
    };
    log::set_level(options.log_level);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            error!("cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    let result = runtime.block_on(async {
        match (&options.redis, &options.cluster) {
            (Some(url), _) => {
                let store = RedisStore::single(url, options.redis_timeout)?;
                check_redis(&store, "redis").await;
                serve(&options, store).await
            }
            (_, Some(urls)) => {
                let store = RedisStore::cluster(urls, options.redis_timeout)?;
                check_redis(&store, "redis-cluster").await;
                serve(&options, store).await
            }
            _ => {
                let store = Arc::new(MemoryStore::new(options.max_entries));
                let sweeper = Arc::clone(&store);
                tokio::spawn(async move {
                    let mut tick = tokio::time::interval(Duration::from_secs(1));
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    loop {
                        tick.tick().await;
                        sweeper.sweep_tick(Instant::now(), memory::SWEEP_BUDGET);
                    }
                });
                info!("backend: memory, at most {} entries", options.max_entries);
                serve(&options, store).await
            }
        }
    });
    if let Err(e) = result {
        error!("{e}");
        std::process::exit(1);
    }
}

/// Logs whether Redis answers at start; the service starts either way.
async fn check_redis(store: &RedisStore, name: &str) {
    match store.ping().await {
        Ok(()) => info!("backend: {name}, reachable"),
        Err(e) => warning!("backend: {name}, not reachable yet ({e}); answering 503 until it is"),
    }
}

async fn serve<S: Store>(o: &Options, store: S) -> Result<(), String> {
    let state = Arc::new((store, Metrics::default()));
    let listener = TcpListener::bind(&o.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", o.listen))?;
    let addr: SocketAddr = listener.local_addr().map_err(|e| e.to_string())?;
    // The line scripts and tests wait for; printed whatever the log level.
    let _ = writeln!(std::io::stderr(), "listening on {addr}");

    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown_signal());
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        error!("accept failed: {e}");
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
    info!("shutting down");
    if tokio::time::timeout(Duration::from_secs(5), graceful.shutdown())
        .await
        .is_err()
    {
        warning!("connections still open after 5 s; stopping anyway");
    }
    info!("stopped");
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
    // Read at most one byte more than allowed, so an oversized body is answered 413.
    let collected = tokio::time::timeout(
        CLIENT_TIMEOUT,
        Limited::new(req.into_body(), api::MAX_BODY_BYTES + 1).collect(),
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

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn command_line() {
        let o = parse_args(&args(&[
            "--listen",
            "127.0.0.1:0",
            "--memory-max-entries",
            "5",
            "--log-level",
            "debug",
        ]))
        .unwrap();
        assert_eq!((o.listen.as_str(), o.max_entries), ("127.0.0.1:0", 5));
        assert_eq!(o.log_level, Level::Debug);
        let o = parse_args(&args(&["--listen", ":1"])).unwrap();
        assert_eq!((o.max_entries, o.log_level), (1_000_000, Level::Info));
        assert!(o.redis.is_none() && o.cluster.is_none());
        let o = parse_args(&args(&[
            "--listen",
            ":1",
            "--redis-cluster",
            "redis://a:1, redis://b:2,",
        ]))
        .unwrap();
        assert_eq!(
            o.cluster.unwrap(),
            vec!["redis://a:1".to_string(), "redis://b:2".to_string()]
        );
        for bad in [
            &["--redis", "redis://x"][..],
            &["--listen"],
            &["--listen", "a", "--memory-max-entries", "0"],
            &["--listen", "a", "--memory-max-entries", "many"],
            &["--listen", "a", "--redis", "r", "--redis-cluster", "c"],
            &["--listen", "a", "--redis-cluster", ","],
            &["--listen", "a", "--log-level", "loud"],
            &["--listen", "a", "--frobnicate"],
        ] {
            assert!(parse_args(&args(bad)).is_err(), "{bad:?}");
        }
    }
}
