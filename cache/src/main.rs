//! webhook-guard-cache: the small service that lets webhook-guard (a proxy-wasm filter in
//! Envoy) process each webhook delivery exactly once. The filter claims a delivery's key
//! before forwarding it, commits the claim when the receiver answered 2xx, and releases it
//! otherwise, so a sender's retry after a failure is processed and a retry after a success
//! is answered as a duplicate. See api.rs for the HTTP API and store.rs for the semantics.
//!
//! Backends: memory (the default; one instance, bounded, TTL-evicting) and Redis or Redis
//! Cluster (several instances, and several Envoys, sharing one dedupe window).

mod api;
mod metrics;
mod store;

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
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use metrics::Metrics;
use store::{MemoryStore, RedisStore, Store};

const USAGE: &str =
    "usage: webhook-guard-cache --listen ADDR [--redis URL | --redis-cluster URL,URL,...]
                           [--memory-max-entries N]

  --listen ADDR             address to serve on, e.g. 127.0.0.1:8081 (port 0: any free port)
  --redis URL               keep claims in Redis (redis://host:port/db); shared by every instance
  --redis-cluster URLS      the same on a Redis Cluster (comma-separated seed nodes)
  --memory-max-entries N    memory backend (the default): most live keys, default 1000000;
                            when full, claims answer 503 until entries expire (fail closed)

Prints `listening on ADDR` on standard error once ready; SIGTERM or SIGINT stops it,
letting requests in progress finish.";

struct Options {
    listen: String,
    redis: Option<String>,
    cluster: Option<Vec<String>>,
    max_entries: usize,
}

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        listen: String::new(),
        redis: None,
        cluster: None,
        max_entries: 1_000_000,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--listen" => o.listen = value()?,
            "--redis" => o.redis = Some(value()?),
            "--redis-cluster" => {
                o.cluster = Some(value()?.split(',').map(str::to_string).collect())
            }
            "--memory-max-entries" => {
                o.max_entries = value()?
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or("--memory-max-entries takes a positive number")?
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

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return;
    }
    let options = match parse_args(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}\n\n{USAGE}");
            std::process::exit(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = runtime.block_on(serve(options)) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

async fn serve(o: Options) -> Result<(), String> {
    let store = match (&o.redis, &o.cluster) {
        (Some(url), _) => Store::Redis(RedisStore::connect_single(url).await?),
        (_, Some(urls)) => Store::Redis(RedisStore::connect_cluster(urls).await?),
        _ => Store::Memory(MemoryStore::new(o.max_entries)),
    };
    let state = Arc::new((store, Metrics::default()));

    if matches!(state.0, Store::Memory(_)) {
        let sweeper = Arc::clone(&state);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                if let Store::Memory(m) = &sweeper.0 {
                    m.sweep(Instant::now(), 10_000);
                }
            }
        });
    }

    let listener = TcpListener::bind(&o.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", o.listen))?;
    let addr: SocketAddr = listener.local_addr().map_err(|e| e.to_string())?;
    let backend = match (&o.redis, &o.cluster) {
        (Some(_), _) => "redis",
        (_, Some(_)) => "redis-cluster",
        _ => "memory",
    };
    // The first line on stderr, which scripts and tests wait for.
    let _ = writeln!(
        std::io::stderr(),
        "listening on {addr} (backend: {backend})"
    );

    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown_signal());
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let state = Arc::clone(&state);
                let service = service_fn(move |req| {
                    let state = Arc::clone(&state);
                    async move { Ok::<_, hyper::Error>(respond(&state.0, &state.1, req).await) }
                });
                let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
    api::log_line("stopped");
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

async fn respond(
    store: &Store,
    metrics: &Metrics,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    // Read at most one byte more than allowed, so an oversized body is answered 413.
    let body = match Limited::new(req.into_body(), api::MAX_BODY_BYTES + 1)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::from(vec![0u8; api::MAX_BODY_BYTES + 1]),
    };
    let answer = api::handle(store, metrics, &method, &path, &body).await;
    let mut response = Response::new(Full::new(Bytes::from(answer.body)));
    *response.status_mut() = hyper::StatusCode::from_u16(answer.status)
        .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = hyper::header::HeaderValue::from_str(answer.content_type) {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, v);
    }
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
        ]))
        .unwrap();
        assert_eq!((o.listen.as_str(), o.max_entries), ("127.0.0.1:0", 5));
        let o = parse_args(&args(&[
            "--listen",
            ":1",
            "--redis-cluster",
            "redis://a,redis://b",
        ]))
        .unwrap();
        assert_eq!(o.cluster.unwrap().len(), 2);
        for bad in [
            &["--redis", "redis://x"][..],
            &["--listen"],
            &["--listen", "a", "--memory-max-entries", "0"],
            &["--listen", "a", "--redis", "r", "--redis-cluster", "c"],
            &["--listen", "a", "--frobnicate"],
        ] {
            assert!(parse_args(&args(bad)).is_err(), "{bad:?}");
        }
    }
}
