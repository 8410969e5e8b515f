//! The demo upstream of `make run`: prints every request that gets past the filter (this is
//! a demo of what arrives, so it does print the payload) and answers 200.
//! `--fail N` answers 500 to the first N requests, to watch a sender's retry go through.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use webhook_guard_tools::{fail, Args};

const USAGE: &str = "usage: webhook-guard-demo-receiver [--listen 127.0.0.1:8080] [--fail N]";

fn main() {
    let args = Args::from_env();
    if args.flag("help") {
        println!("{USAGE}");
        return;
    }
    let listen = args
        .value("listen")
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let failures: u64 = match args.value("fail") {
        Some(n) => n
            .parse()
            .unwrap_or_else(|_| fail("--fail takes a number", USAGE)),
        None => 0,
    };
    let listener = TcpListener::bind(&listen)
        .unwrap_or_else(|e| fail(&format!("cannot listen on {listen}: {e}"), USAGE));
    println!("demo receiver listening on {listen}");
    let left = Arc::new(AtomicU64::new(failures));
    for conn in listener.incoming().flatten() {
        let left = Arc::clone(&left);
        std::thread::spawn(move || {
            if let Err(e) = serve(conn, &left) {
                eprintln!("connection error: {e}");
            }
        });
    }
}

fn serve(conn: TcpStream, failures_left: &AtomicU64) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut writer = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut headers = Vec::new();
        let mut length = 0usize;
        loop {
            let mut h = String::new();
            reader.read_line(&mut h)?;
            let h = h.trim_end().to_string();
            if h.is_empty() {
                break;
            }
            if let Some((name, value)) = h.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            headers.push(h);
        }
        let mut body = vec![0; length.min(16 * 1024 * 1024)];
        reader.read_exact(&mut body)?;
        let failing = failures_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        let status = if failing { 500 } else { 200 };
        println!("--- {} -> answering {status}", line.trim_end());
        for h in headers
            .iter()
            .filter(|h| h.to_ascii_lowercase().starts_with("x-webhook-guard-"))
        {
            println!("    {h}");
        }
        println!(
            "    body ({} bytes): {}",
            body.len(),
            String::from_utf8_lossy(&body)
        );
        let answer = if failing {
            r#"{"error":"demo failure"}"#
        } else {
            r#"{"received":true}"#
        };
        write!(
            writer,
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
            answer.len()
        )?;
    }
}
