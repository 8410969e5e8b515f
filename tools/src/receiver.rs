//! `webhook-guard demo-receiver`, the demo upstream of `make run`: prints every request that gets past the filter (this is
//! a demo of what arrives, so it does print the payload) and answers 200.
//! `--fail N` answers 500 to the first N requests, to watch a sender's retry go through.
//! Stops on SIGTERM or Ctrl-C (docker compose down does not have to kill it).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Largest body read (the filter's own limit is far below).
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Serves until SIGTERM or Ctrl-C; `fail` requests are answered 500 first.
pub fn run(listen: SocketAddr, fail: u64) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(serve(listen, fail))
}

async fn serve(listen: SocketAddr, fail: u64) -> Result<(), String> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let bound = listener.local_addr().map_or(listen, |a| a);
    println!("demo receiver listening on {bound}");
    let left = Arc::new(AtomicU64::new(fail));
    let mut stop = std::pin::pin!(stop_signal());
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let left = Arc::clone(&left);
                let service = service_fn(move |req| {
                    let left = Arc::clone(&left);
                    async move { Ok::<_, hyper::Error>(answer(req, &left).await) }
                });
                tokio::spawn(async move {
                    if let Err(e) = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await
                    {
                        eprintln!("connection error: {e}");
                    }
                });
            }
            _ = &mut stop => {
                println!("demo receiver stopping");
                return Ok(());
            }
        }
    }
}

async fn stop_signal() {
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

async fn answer(req: Request<Incoming>, failures_left: &AtomicU64) -> Response<Full<Bytes>> {
    let line = format!("{} {}", req.method(), req.uri());
    let ours: Vec<String> = req
        .headers()
        .iter()
        .filter(|(n, _)| n.as_str().starts_with("x-webhook-guard-"))
        .map(|(n, v)| format!("{n}: {}", String::from_utf8_lossy(v.as_bytes())))
        .collect();
    // Any framing (content-length or chunked), read to the end.
    let body = match Limited::new(req.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            eprintln!("--- {line}: body not read: {e}");
            Bytes::new()
        }
    };
    let failing = failures_left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let status = if failing { 500 } else { 200 };
    println!("--- {line} -> answering {status}");
    for h in ours {
        println!("    {h}");
    }
    println!(
        "    body ({} bytes): {}",
        body.len(),
        String::from_utf8_lossy(&body)
    );
    let text = if failing {
        r#"{"error":"demo failure"}"#
    } else {
        r#"{"received":true}"#
    };
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(text.as_bytes())))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}
