//! A TCP proxy in front of a real server. `cut()` closes every connection and refuses new
//! ones, as if the server had stopped; `restore()` lets connections through again on the same
//! port. This takes a dependency away from one service under test while the shared server
//! keeps serving every other test.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct TcpProxy {
    addr: SocketAddr,
    target: String,
    up: watch::Sender<bool>,
    acceptor: Mutex<Option<JoinHandle<()>>>,
}

impl TcpProxy {
    /// Starts a proxy on a free port of 127.0.0.1 to `target` ("host:port").
    pub async fn start(target: &str) -> Arc<Self> {
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
        let handle = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let target = target.clone();
                let mut up = up.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(&target).await else {
                        return;
                    };
                    let (mut client, mut server) = (client, server);
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = up.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        *self.acceptor.lock().expect("proxy lock") = Some(handle);
    }
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
