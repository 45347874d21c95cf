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
    /// Where a durable one keeps its append-only file; removed when dropped.
    dir: Option<std::path::PathBuf>,
    /// `redis://127.0.0.1:<port>`.
    pub url: String,
}

/// The settings of the state Redis (`scripts/infra.sh`, `docker-compose.yml`, the Kubernetes
/// values): an append-only file written every second.
pub const STATE_REDIS_PERSISTENCE: [&str; 6] = [
    "--save",
    "",
    "--appendonly",
    "yes",
    "--appendfsync",
    "everysec",
];

impl PrivateRedis {
    /// Starts one with `args` added (e.g. `["--maxmemory", "2mb"]`); no persistence.
    pub async fn start(args: &[&str]) -> Self {
        let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        args.splice(
            0..0,
            ["--save", "", "--appendonly", "no"].map(str::to_owned),
        );
        Self::spawned(args, None).await
    }

    /// Starts one that persists as the state Redis does ([`STATE_REDIS_PERSISTENCE`]), in a
    /// directory of its own that outlives [`Self::restart`].
    pub async fn durable() -> Self {
        let dir = std::env::temp_dir().join(crate::unique_name("redis-aof"));
        std::fs::create_dir_all(&dir).expect("a directory for the append-only file");
        let mut args: Vec<String> = STATE_REDIS_PERSISTENCE.map(str::to_owned).to_vec();
        args.extend(["--dir".to_owned(), dir.display().to_string()]);
        Self::spawned(args, Some(dir)).await
    }

    async fn spawned(args: Vec<String>, dir: Option<std::path::PathBuf>) -> Self {
        let port = crate::free_port();
        Self {
            child: spawn(port, &args).await,
            port,
            args,
            dir,
            url: format!("redis://127.0.0.1:{port}"),
        }
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL) and starts it again on the same port with the same settings:
    /// what its clients see when Redis crashes and comes back. A durable one reloads its
    /// append-only file; any other comes back empty.
    pub async fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = spawn(self.port, &self.args).await;
    }
}

/// Starts `redis-server` on `port` with `args` and waits until it answers PING with PONG
/// (a durable one answers `LOADING` while it reads its file back).
async fn spawn(port: u16, args: &[String]) -> Child {
    let binary = std::env::var("REDIS_SERVER_BIN").unwrap_or_else(|_| "redis-server".into());
    let child = Command::new(&binary)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {binary} (scripts/infra.sh installs it): {e}"));
    let started = Instant::now();
    while !answers_pong(port).await {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the private redis-server did not answer PING"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child
}

async fn answers_pong(port: u16) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut socket) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    if socket.write_all(b"PING\r\n").await.is_err() {
        return false;
    }
    let mut answer = [0u8; 64];
    matches!(socket.read(&mut answer).await, Ok(n) if answer[..n].starts_with(b"+PONG"))
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
