//! A TCP proxy in front of a real server. `cut()` closes every connection and refuses new
//! ones, as if the server had stopped; `restore()` lets connections through again on the same
//! port. This takes a dependency away from one service under test while the shared server
//! keeps serving every other test.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A cuttable TCP proxy in front of a shared server, so one service under test can lose a
/// dependency; it stops on drop.
pub struct TcpProxy {
    addr: SocketAddr,
    target: String,
    up: watch::Sender<bool>,
    acceptor: Mutex<Option<JoinHandle<()>>>,
    /// What clients sent to the server, when started with `start_recording`.
    sent: Option<Arc<Mutex<Vec<u8>>>>,
}

/// A recording keeps at most this much of what clients sent.
const RECORDING_LIMIT: usize = 4 << 20;

impl TcpProxy {
    /// Starts a proxy on a free port of 127.0.0.1 to `target` ("host:port").
    pub async fn start(target: &str) -> Arc<Self> {
        Self::start_with(target, None).await
    }

    /// Like `start`, and keeps what clients send to the server (the first 4 MiB), to check
    /// what a service puts on the wire.
    pub async fn start_recording(target: &str) -> Arc<Self> {
        Self::start_with(target, Some(Arc::default())).await
    }

    /// Everything clients have sent through the proxy so far, as text.
    pub fn sent_text(&self) -> String {
        self.sent
            .as_ref()
            .map(|sent| String::from_utf8_lossy(&sent.lock().expect("recording lock")).into_owned())
            .unwrap_or_default()
    }

    async fn start_with(target: &str, sent: Option<Arc<Mutex<Vec<u8>>>>) -> Arc<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a proxy port");
        let addr = listener.local_addr().expect("proxy address");
        let (up, _) = watch::channel(true);
        let proxy = Arc::new(Self {
            addr,
            target: target.to_owned(),
            up,
            acceptor: Mutex::new(None),
            sent,
        });
        proxy.accept_on(listener);
        proxy
    }

    /// "host:port" of the proxy.
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// The proxy's address in a URL of the given scheme, e.g. `url("redis")`.
    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://{}", self.addr)
    }

    /// Closes every open connection and refuses new ones.
    pub fn cut(&self) {
        self.up.send_replace(false);
        if let Some(acceptor) = self.acceptor.lock().expect("proxy lock").take() {
            acceptor.abort();
        }
    }

    /// Accepts connections again on the same port.
    pub async fn restore(self: &Arc<Self>) {
        self.up.send_replace(true);
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(listener) => break listener,
                Err(err) if tries < 50 => {
                    tries += 1;
                    tracing::debug!(%err, "proxy port not free yet");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(err) => panic!("cannot rebind proxy port {}: {err}", self.addr),
            }
        };
        self.accept_on(listener);
    }

    fn accept_on(self: &Arc<Self>, listener: TcpListener) {
        let target = self.target.clone();
        let up = self.up.subscribe();
        let sent = self.sent.clone();
        let handle = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let target = target.clone();
                let mut up = up.clone();
                let sent = sent.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(&target).await else {
                        return;
                    };
                    let (mut client, mut server) = (client, server);
                    match sent {
                        None => tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                            _ = up.wait_for(|up| !*up) => {}
                        },
                        Some(sent) => tokio::select! {
                            _ = pump_recording(&mut client, &mut server, &sent) => {}
                            _ = up.wait_for(|up| !*up) => {}
                        },
                    }
                });
            }
        });
        *self.acceptor.lock().expect("proxy lock") = Some(handle);
    }
}

/// Both directions, keeping a copy of what the client sends.
async fn pump_recording(client: &mut TcpStream, server: &mut TcpStream, sent: &Mutex<Vec<u8>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut client_read, mut client_write) = client.split();
    let (mut server_read, mut server_write) = server.split();
    let upstream = async {
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            let n = match client_read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            {
                let mut sent = sent.lock().expect("recording lock");
                let room = RECORDING_LIMIT.saturating_sub(sent.len()).min(n);
                sent.extend_from_slice(&buffer[..room]);
            }
            if server_write.write_all(&buffer[..n]).await.is_err() {
                break;
            }
        }
        let _ = server_write.shutdown().await;
    };
    let downstream = async {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
        let _ = client_write.shutdown().await;
    };
    tokio::join!(upstream, downstream);
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.up.send_replace(false);
        if let Ok(mut acceptor) = self.acceptor.lock()
            && let Some(acceptor) = acceptor.take()
        {
            acceptor.abort();
        }
    }
}
