//! A real `redis-server`, the cache service's shared backend.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::{free_port, scratch_dir, wait_listening};

/// A real `redis-server` on a free loopback port, persisting to a scratch directory.
pub struct Redis {
    child: Child,
    pub port: u16,
    dir: PathBuf,
}

impl Redis {
    pub fn start() -> Redis {
        let port = free_port();
        let dir = scratch_dir("redis");
        let mut redis = Redis {
            child: Self::spawn(port, &dir),
            port,
            dir,
        };
        wait_listening(port, &mut redis.child, "redis-server");
        redis
    }

    fn spawn(port: u16, dir: &Path) -> Child {
        Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--appendonly", "yes", "--save", ""])
            .arg("--dir")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is required (make test installs it)")
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
