//! The tools as a user runs them: the sender signs and POSTs to the demo receiver, which
//! reads any framing (a chunked body too) and stops on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Receiver {
    child: Child,
    port: u16,
    out: BufReader<std::process::ChildStdout>,
}

impl Receiver {
    fn start(extra: &[&str]) -> Receiver {
        let mut child = Command::new(env!("CARGO_BIN_EXE_webhook-guard"))
            .args(["demo-receiver", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the demo receiver");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        out.read_line(&mut line).expect("first line");
        let port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        Receiver { child, port, out }
    }

    /// The receiver's output until a line containing `until`.
    fn read_until(&mut self, until: &str) -> String {
        let mut text = String::new();
        while !text.contains(until) {
            let mut line = String::new();
            if self.out.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            text.push_str(&line);
        }
        text
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_sender_signs_and_the_receiver_answers() {
    let mut receiver = Receiver::start(&["--fail", "1"]);
    let port = receiver.port;
    let send = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_webhook-guard"))
            .args([
                "send",
                "--url",
                &format!("http://127.0.0.1:{port}/webhooks/github"),
            ])
            .args(["--preset", "github", "--secret", "a-demo-secret-0123456789"])
            .args(extra)
            .output()
            .expect("run the sender")
    };
    let first = send(&["--id", "d-1"]);
    let text = String::from_utf8_lossy(&first.stdout);
    assert!(text.contains("answer: 500"), "{text}");
    let second = send(&["--id", "d-1"]);
    assert!(String::from_utf8_lossy(&second.stdout).contains("answer: 200"));
    let seen = receiver.read_until("answering 200");
    assert!(seen.contains(r#""id":"d-1""#), "{seen}");
    // A misspelt flag is an error, not ignored.
    let bad = send(&["--tamperr"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn a_chunked_body_is_read_whole_and_sigterm_stops_the_receiver() {
    let mut receiver = Receiver::start(&[]);
    let mut conn = TcpStream::connect(("127.0.0.1", receiver.port)).expect("connect");
    conn.write_all(
        b"POST /x HTTP/1.1\r\nhost: r\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    )
    .expect("write");
    let mut answer = [0u8; 12];
    conn.read_exact(&mut answer).expect("answer");
    assert_eq!(&answer, b"HTTP/1.1 200");
    let seen = receiver.read_until("body");
    assert!(seen.contains("body (11 bytes): hello world"), "{seen}");

    let pid = receiver.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(status) = receiver.child.try_wait().expect("wait") {
            assert!(status.success(), "{status}");
            break;
        }
        assert!(Instant::now() < deadline, "still running 5 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_sender_signs_for_every_preset() {
    let receiver = Receiver::start(&[]);
    let url = format!("http://127.0.0.1:{}/webhooks/x?tenant=1", receiver.port);
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_webhook-guard"))
            .args(["send", "--url", &url])
            .args(args)
            .output()
            .expect("run the sender")
    };
    let ed_seed = "02".repeat(32);
    let p256 = "05".repeat(32);
    for preset in webhook_guard::scheme::presets::PRESET_NAMES {
        let key: Vec<&str> = match preset {
            "custom" => continue,
            "discord" => vec!["--private-key", &ed_seed],
            "sendgrid" => vec!["--private-key", &p256],
            "standard-webhooks" => vec!["--secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
            _ => vec!["--secret", "a-demo-secret-0123456789"],
        };
        let out = run(&[&["--preset", preset][..], &key].concat());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("answer: 200"),
            "{preset}: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Standard Webhooks' v1a: an Ed25519 private key.
    let out = run(&["--preset", "standard-webhooks", "--private-key", &ed_seed]);
    assert!(out.status.success());
    // The public key to configure, as each sender shows it.
    let public = |preset: &str, key: &str| {
        let out = run(&[
            "--preset",
            preset,
            "--private-key",
            key,
            "--print-public-key",
        ]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(public("discord", &ed_seed).len(), 64);
    assert!(public("standard-webhooks", &ed_seed).starts_with("whpk_"));
    assert!(public("sendgrid", &p256).starts_with("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE"));
    // A shared secret where a private key is needed: refused, saying what is needed.
    let out = run(&[
        "--preset",
        "discord",
        "--secret",
        "a-demo-secret-0123456789",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("private key"));
}
