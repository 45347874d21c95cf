//! Servers started as processes of their own (a service's binary, a broker, a browser driver):
//! a port to give them, and waiting until a service binary serves.

use std::process::Child;
use std::time::{Duration, Instant};

/// A port of 127.0.0.1 that is free now, for a server started as a process of its own.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Waits until `{base_url}/readyz` of a service started as `child` answers 200; panics when
/// `child` exits first or `within` passes.
pub async fn wait_until_process_ready(base_url: &str, child: &mut Child, within: Duration) {
    let started = Instant::now();
    loop {
        let status = reqwest::get(format!("{base_url}/readyz"))
            .await
            .map(|r| r.status().as_u16());
        if status.ok() == Some(200) {
            return;
        }
        if let Ok(Some(exit)) = child.try_wait() {
            panic!("the service at {base_url} exited before it was ready: {exit}");
        }
        assert!(
            started.elapsed() < within,
            "the service at {base_url} was not ready within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
