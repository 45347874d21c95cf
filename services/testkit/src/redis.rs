//! A Redis server of the test's own, started from the same `redis-server` binary as the shared
//! one (`REDIS_SERVER_BIN`, which `scripts/infra.sh env` exports), with whatever settings the
//! test needs, and stopped when the value is dropped.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A private `redis-server` on a free port.
pub struct PrivateRedis {
    child: Child,
    port: u16,
    args: Vec<String>,
    /// `redis://127.0.0.1:<port>`.
    pub url: String,
}

impl PrivateRedis {
    /// Starts one with `args` added (e.g. `["--maxmemory", "2mb"]`); no persistence.
    pub async fn start(args: &[&str]) -> Self {
        let port = crate::free_port();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        Self {
            child: spawn(port, &args).await,
            port,
            args,
            url: format!("redis://127.0.0.1:{port}"),
        }
    }

    /// Kills the server and starts an empty one on the same port: what its clients see when
    /// Redis crashes and comes back.
    pub async fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = spawn(self.port, &self.args).await;
    }
}

async fn spawn(port: u16, args: &[String]) -> Child {
    let binary = std::env::var("REDIS_SERVER_BIN").unwrap_or_else(|_| "redis-server".into());
    let child = Command::new(&binary)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {binary} (scripts/infra.sh installs it): {e}"));
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the private redis-server did not listen"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
