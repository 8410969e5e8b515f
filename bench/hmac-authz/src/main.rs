//! The ext_authz row of `make bench`: a minimal native service that verifies GitHub-style
//! signatures (`X-Hub-Signature-256: sha256=<hex>`, HMAC-SHA256 of the body) for Envoy's
//! built-in `ext_authz` filter (HTTP service, `with_request_body`, `pack_as_bytes`). It is
//! what an Envoy user would deploy instead of a Wasm filter: native code, so SHA-256 runs
//! with the CPU's SHA extensions when it has them (`sha2` detects them at run time).
//!
//! `hmac-authz --listen 127.0.0.1:PORT --secret-env NAME`: answers 200 when the signature
//! matches (compared in constant time), 403 otherwise. One thread (a current-thread
//! runtime), like the one-worker Envoy it is measured beside. Bench code, not a product: no
//! timestamp window, no deduplication, no schema.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full, Limited};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;

/// Largest body checked (the bench's bodies go to 1 MB).
const MAX_BODY: usize = 2 * 1024 * 1024;

fn usage() -> ! {
    eprintln!("usage: hmac-authz --listen ADDR --secret-env NAME");
    std::process::exit(2);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let (Some(listen), Some(env)) = (arg("--listen"), arg("--secret-env")) else {
        usage()
    };
    let Ok(secret) = std::env::var(&env) else {
        eprintln!("hmac-authz: {env} is not set");
        std::process::exit(2);
    };
    let Ok(keyed) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        usage()
    };
    let keyed = Arc::new(keyed);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("hmac-authz: {e}");
            std::process::exit(1);
        }
    };
    runtime.block_on(async move {
        let listener = match TcpListener::bind(&listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("hmac-authz: cannot listen on {listen}: {e}");
                std::process::exit(1);
            }
        };
        let addr: Option<SocketAddr> = listener.local_addr().ok();
        eprintln!(
            "listening on {}",
            addr.map(|a| a.to_string()).unwrap_or(listen)
        );
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let keyed = Arc::clone(&keyed);
            tokio::spawn(async move {
                let service = service_fn(move |req| check(Arc::clone(&keyed), req));
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}

async fn check(
    keyed: Arc<Hmac<Sha256>>,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let offered = req
        .headers()
        .get("x-hub-signature-256")
        .and_then(|v| v.as_bytes().strip_prefix(b"sha256="))
        .and_then(|hex| hex::decode(hex).ok());
    let body = Limited::new(req.into_body(), MAX_BODY).collect().await;
    let ok = match (offered, body) {
        (Some(offered), Ok(body)) => {
            let mut mac = (*keyed).clone();
            mac.update(&body.to_bytes());
            let expected = mac.finalize().into_bytes();
            bool::from(expected.as_slice().ct_eq(&offered))
        }
        _ => false,
    };
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::FORBIDDEN
    };
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    Ok(response)
}
