//! Load for webhook-guard-cache: claim + commit pairs on unique keys over keep-alive
//! connections, one thread per connection. Prints one JSON line:
//! {"ops_per_sec":..,"p50_ms":..,"p99_ms":..,"errors":..}
//! where an op is one claim + commit pair, and p50/p99 are the latencies of a whole pair.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const USAGE: &str = "usage: webhook-guard-cache-bench --url http://HOST:PORT [--concurrency 32] [--duration-seconds 5]";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return;
    }
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let fail = |msg: &str| -> ! {
        eprintln!("error: {msg}\n{USAGE}");
        std::process::exit(2)
    };
    let url = value("--url").unwrap_or_else(|| fail("--url is required"));
    let addr = url
        .strip_prefix("http://")
        .map(|a| a.trim_end_matches('/').to_string())
        .unwrap_or_else(|| fail("--url must be http://HOST:PORT"));
    let concurrency: usize = value("--concurrency").map_or(32, |v| {
        v.parse().unwrap_or_else(|_| fail("bad --concurrency"))
    });
    let seconds: u64 = value("--duration-seconds").map_or(5, |v| {
        v.parse().unwrap_or_else(|_| fail("bad --duration-seconds"))
    });

    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut random = [0u8; 8];
    let _ = getrandom::fill(&mut random);
    let run_id = format!("{:x}", u64::from_le_bytes(random));
    let workers: Vec<_> = (0..concurrency)
        .map(|w| {
            let addr = addr.clone();
            let run_id = run_id.clone();
            std::thread::spawn(move || worker(&addr, &format!("bench-{run_id}-{w}"), deadline))
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0u64;
    for w in workers {
        if let Ok((l, e)) = w.join() {
            latencies.extend(l);
            errors += e;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d: &Duration| d.as_secs_f64() * 1000.0)
    };
    println!(
        r#"{{"ops_per_sec":{:.0},"p50_ms":{:.3},"p99_ms":{:.3},"errors":{errors}}}"#,
        latencies.len() as f64 / elapsed,
        pct(0.50),
        pct(0.99)
    );
}

fn worker(addr: &str, prefix: &str, deadline: Instant) -> (Vec<Duration>, u64) {
    let mut latencies = Vec::new();
    let mut errors = 0;
    let Ok(stream) = TcpStream::connect(addr) else {
        return (latencies, 1);
    };
    let _ = stream.set_nodelay(true);
    let Ok(read_half) = stream.try_clone() else {
        return (latencies, 1);
    };
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;
    let mut n = 0u64;
    while Instant::now() < deadline {
        n += 1;
        let key = format!("{prefix}-{n}");
        let t = Instant::now();
        let claim = post(
            &mut writer,
            &mut reader,
            "/v1/claim",
            &format!(r#"{{"key":"{key}","ttl_ms":60000}}"#),
        );
        let token = claim
            .as_deref()
            .and_then(|b| b.split(r#""token":""#).nth(1))
            .and_then(|r| r.get(..32))
            .map(str::to_string);
        let Some(token) = token else {
            errors += 1;
            continue;
        };
        let commit = post(
            &mut writer,
            &mut reader,
            "/v1/commit",
            &format!(r#"{{"key":"{key}","token":"{token}","ttl_ms":600000}}"#),
        );
        if commit.as_deref().is_some_and(|b| b.contains("committed")) {
            latencies.push(t.elapsed());
        } else {
            errors += 1;
        }
    }
    (latencies, errors)
}

fn post(w: &mut TcpStream, r: &mut BufReader<TcpStream>, path: &str, body: &str) -> Option<String> {
    let req = format!(
        "POST {path} HTTP/1.1\r\nhost: cache\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    w.write_all(req.as_bytes()).ok()?;
    let mut length = 0usize;
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    loop {
        line.clear();
        r.read_line(&mut line).ok()?;
        if line.trim().is_empty() {
            break;
        }
        if let Some((n, v)) = line.split_once(':') {
            if n.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().ok()?;
            }
        }
    }
    let mut body = vec![0; length];
    r.read_exact(&mut body).ok()?;
    String::from_utf8(body).ok()
}
