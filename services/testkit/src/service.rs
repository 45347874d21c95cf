//! A service under test, started on port 0 inside the test process.

use std::time::{Duration, Instant};

use serde_json::Value;

/// A service running in the test process, and an HTTP client to call it; see [`spawn`].
pub struct TestService {
    /// `http://127.0.0.1:<port>`, to build request URLs from (see [`url`](Self::url)).
    pub base_url: String,
    /// Where its `/metrics` is served (the gateway serves it on a port of its own).
    pub metrics_url: String,
    /// A client with a 10 s timeout, so a hung request fails the test instead of hanging it.
    pub http: reqwest::Client,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Runs a bound service in the background and returns how to reach it.
pub async fn spawn(service: common::Service) -> TestService {
    crate::init_logs();
    let base_url = format!("http://{}", service.local_addr());
    let metrics_url = format!("http://{}/metrics", service.metrics_addr());
    let task = tokio::spawn(service.run_until_stopped());
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http client");
    TestService {
        base_url,
        metrics_url,
        http,
        task,
    }
}

impl TestService {
    /// Stops the service and its background work, as a crash would.
    pub fn stop(&self) {
        self.task.abort();
    }

    /// The full URL of `path` (e.g. "/readyz") on the service.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// A GET of `path` on the service, to add headers to and send.
    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(self.url(path))
    }

    /// A POST to `path` on the service, to add headers and a body to and send.
    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.post(self.url(path))
    }

    /// A PUT to `path` on the service, to add headers and a body to and send.
    pub fn put(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.put(self.url(path))
    }

    /// A DELETE of `path` on the service, to add headers to and send.
    pub fn delete(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.delete(self.url(path))
    }

    /// GETs `path` and returns the JSON body, whatever the status.
    pub async fn get_json(&self, path: &str) -> Value {
        Self::read_json(self.get(path), path).await
    }

    async fn read_json(request: reqwest::RequestBuilder, path: &str) -> Value {
        request
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("GET {path} answered no JSON: {e}"))
    }

    /// Like [`Self::get_json`], signed as the gateway on its own account, as operators' tools
    /// call the services' operator endpoints (outbox backlog, worker stats, set-aside records).
    pub async fn get_json_as_gateway(&self, path: &str) -> Value {
        let token = crate::identity_key().sign_as(
            common::identity::Caller::Gateway,
            None,
            Some("192.0.2.99"),
            std::time::SystemTime::now(),
        );
        let request = self
            .get(path)
            .header(common::identity::IDENTITY_HEADER, token);
        Self::read_json(request, path).await
    }

    /// `/readyz` status code and body.
    pub async fn readiness(&self) -> (u16, Value) {
        let response = self.get("/readyz").send().await.expect("GET /readyz");
        let status = response.status().as_u16();
        (status, response.json().await.expect("/readyz answers JSON"))
    }

    /// Asserts that `/healthz` answers 200: the process is up, whatever its dependencies say.
    pub async fn assert_alive(&self) {
        let response = self.get("/healthz").send().await.expect("GET /healthz");
        assert_eq!(response.status().as_u16(), 200, "/healthz");
    }

    /// Waits until `/readyz` says every dependency answers (at most `within`).
    pub async fn wait_until_ready(&self, within: Duration) {
        let started = Instant::now();
        loop {
            let (status, body) = self.readiness().await;
            if status == 200 && body["ready"] == true {
                return;
            }
            assert!(
                started.elapsed() < within,
                "not ready after {within:?}: {status} {body}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until `/readyz` answers 503 naming `dependency` as the one that failed.
    pub async fn wait_until_unready_because_of(&self, dependency: &str, within: Duration) {
        let started = Instant::now();
        loop {
            let (status, body) = self.readiness().await;
            let failed: Vec<&str> = body["checks"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|c| c["ok"] == false)
                .filter_map(|c| c["name"].as_str())
                .collect();
            if status == 503 && failed == [dependency] {
                return;
            }
            assert!(
                started.elapsed() < within,
                "expected 503 with only {dependency} failing within {within:?}, got {status} {body}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Cuts `proxy` (the service's only way to `dependency`), expects `/readyz` to turn
    /// unready naming it, restores it and expects the service to recover by itself.
    pub async fn assert_readiness_follows(
        &self,
        proxy: &std::sync::Arc<crate::TcpProxy>,
        dependency: &str,
    ) {
        self.wait_until_ready(Duration::from_secs(15)).await;
        proxy.cut();
        self.wait_until_unready_because_of(dependency, Duration::from_secs(15))
            .await;
        proxy.restore().await;
        self.wait_until_ready(Duration::from_secs(30)).await;
    }
}
