//! The receiver: a real HTTP/1.1 server on a loopback port that records every request, and
//! can answer another status, late, every n-th time 500, or hang or reset instead.

use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use super::http::{read_body, read_head};

/// What reached the upstream.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
    /// The trailers of a chunked body (Envoy sends them: the tests' receiver cluster has
    /// HTTP/1.1 trailers enabled).
    pub trailers: Vec<(String, Vec<u8>)>,
    /// The status the upstream answered (0: it hung or reset instead).
    pub answered: u16,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }
}

/// How the upstream behaves, for fault injection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Behaviour {
    #[default]
    Answer,
    /// Reads the request and never answers (until Envoy gives up).
    Hang,
    /// Reads the request and closes the connection without answering.
    Reset,
}

#[derive(Default)]
struct UpstreamState {
    requests: Mutex<Vec<Recorded>>,
    /// Request heads parsed: counts even a request whose body never came.
    heads: AtomicUsize,
    status: AtomicU16,
    delay_ms: AtomicU64,
    behaviour: Mutex<Behaviour>,
    /// When non-zero, every n-th request is answered 500 (a flaky receiver).
    fail_every: AtomicUsize,
}

/// A real HTTP/1.1 server on a loopback port that records every request.
pub struct Upstream {
    pub port: u16,
    state: Arc<UpstreamState>,
}

impl Upstream {
    pub fn start() -> Upstream {
        Self::start_on(0)
    }

    /// On a given port (0: a free one), e.g. one Envoy could not connect to until now.
    pub fn start_on(port: u16) -> Upstream {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind upstream");
        let port = listener.local_addr().expect("addr").port();
        let state = Arc::new(UpstreamState::default());
        state.status.store(200, Ordering::SeqCst);
        let st = Arc::clone(&state);
        thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let st = Arc::clone(&st);
                thread::spawn(move || serve_connection(conn, &st));
            }
        });
        Upstream { port, state }
    }

    /// The status the upstream answers from now on.
    pub fn set_status(&self, status: u16) {
        self.state.status.store(status, Ordering::SeqCst);
    }

    pub fn set_behaviour(&self, b: Behaviour) {
        *self.state.behaviour.lock().expect("lock") = b;
    }

    pub fn set_fail_every(&self, n: usize) {
        self.state.fail_every.store(n, Ordering::SeqCst);
    }

    pub fn set_delay(&self, delay: Duration) {
        self.state
            .delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().expect("lock").clone()
    }

    pub fn heads(&self) -> usize {
        self.state.heads.load(Ordering::SeqCst)
    }
}

fn serve_connection(conn: TcpStream, st: &UpstreamState) {
    let mut reader = BufReader::new(match conn.try_clone() {
        Ok(c) => c,
        Err(_) => return,
    });
    let mut writer = conn;
    loop {
        let Some((method, path, headers)) = read_head(&mut reader) else {
            return;
        };
        st.heads.fetch_add(1, Ordering::SeqCst);
        let Some((body, trailers)) = read_body(&mut reader, &headers) else {
            return;
        };
        let behaviour = *st.behaviour.lock().expect("lock");
        let n = st.heads.load(Ordering::SeqCst);
        let every = st.fail_every.load(Ordering::SeqCst);
        let status = match behaviour {
            Behaviour::Answer if every > 0 && n.is_multiple_of(every) => 500,
            Behaviour::Answer => st.status.load(Ordering::SeqCst),
            Behaviour::Hang | Behaviour::Reset => 0,
        };
        st.requests.lock().expect("lock").push(Recorded {
            method,
            path,
            headers,
            body,
            trailers,
            answered: status,
        });
        match behaviour {
            Behaviour::Answer => {}
            Behaviour::Hang => {
                thread::sleep(Duration::from_secs(30));
                return;
            }
            Behaviour::Reset => return,
        }
        let delay = st.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            thread::sleep(Duration::from_millis(delay));
        }
        let answer = format!("HTTP/1.1 {status} X\r\ncontent-length: 2\r\n\r\nok");
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}
