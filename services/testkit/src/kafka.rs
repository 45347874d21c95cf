//! A private Apache Kafka broker (KRaft, broker + controller in one JVM) that a test owns and
//! may stop and restart, using the jars `scripts/infra.sh` installed (`KAFKA_LIBS_DIR`,
//! `JAVA_BIN` from `scripts/infra.sh env`). The shared broker stays untouched.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

/// A Kafka broker of the test's own, to stop and restart without disturbing the shared one;
/// its storage is deleted on drop.
pub struct KafkaBroker {
    dir: PathBuf,
    port: u16,
    process: Option<Child>,
}

fn java() -> String {
    std::env::var("JAVA_BIN").unwrap_or_else(|_| "java".into())
}

fn classpath() -> String {
    let libs = std::env::var("KAFKA_LIBS_DIR")
        .expect("KAFKA_LIBS_DIR is not set: run the tests through scripts/test.sh (it evals scripts/infra.sh env)");
    format!("{libs}/*")
}

impl KafkaBroker {
    /// Formats fresh storage and starts the broker on free ports; returns once it accepts
    /// connections.
    pub async fn start() -> Self {
        let dir = std::env::temp_dir().join(crate::unique_name("kafka"));
        std::fs::create_dir_all(&dir).expect("kafka temp dir");
        let (port, controller) = (crate::free_port(), crate::free_port());
        let properties = format!(
            "process.roles=broker,controller\n\
             node.id=1\n\
             controller.quorum.voters=1@127.0.0.1:{controller}\n\
             listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}\n\
             advertised.listeners=PLAINTEXT://127.0.0.1:{port}\n\
             controller.listener.names=CONTROLLER\n\
             inter.broker.listener.name=PLAINTEXT\n\
             listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\n\
             log.dirs={}\n\
             num.partitions=3\n\
             auto.create.topics.enable=true\n\
             offsets.topic.replication.factor=1\n\
             transaction.state.log.replication.factor=1\n\
             transaction.state.log.min.isr=1\n\
             share.coordinator.state.topic.replication.factor=1\n\
             share.coordinator.state.topic.min.isr=1\n\
             group.initial.rebalance.delay.ms=0\n\
             broker.session.timeout.ms=3000\n\
             broker.heartbeat.interval.ms=500\n",
            dir.join("data").display()
        );
        std::fs::write(dir.join("server.properties"), properties).expect("write server.properties");
        let status = Command::new(java())
            .args([
                "-Xmx256m",
                "-cp",
                &classpath(),
                "kafka.tools.StorageTool",
                "format",
                "--config",
            ])
            .arg(dir.join("server.properties"))
            .args(["--cluster-id", "UHJpdmF0ZVRlc3RLYWZrYQ"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await
            .expect("run Kafka's StorageTool");
        assert!(status.success(), "formatting private Kafka storage failed");
        let mut broker = Self {
            dir,
            port,
            process: None,
        };
        broker.launch().await;
        broker
    }

    /// `host:port` for `bootstrap.servers`.
    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Kills the broker (as a crash would).
    pub async fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.kill().await;
        }
    }

    /// Starts the broker again on the same port with the same data.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.launch().await;
    }

    async fn launch(&mut self) {
        let log = std::fs::File::create(self.dir.join("broker.log")).expect("broker log");
        let process = Command::new(java())
            .args([
                "-Xms128m",
                "-Xmx384m",
                "-XX:+UseSerialGC",
                "-cp",
                &classpath(),
                "kafka.Kafka",
            ])
            .arg(self.dir.join("server.properties"))
            .stdout(Stdio::from(log))
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start the private Kafka broker");
        self.process = Some(process);
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "private Kafka did not open its port within 60 s (log: {})",
                self.dir.join("broker.log").display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for KafkaBroker {
    fn drop(&mut self) {
        if let Some(process) = self.process.as_mut() {
            let _ = process.start_kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Reads `topic` from the beginning with a consumer group of its own until `count` records
/// arrived or `within` passed; returns their payloads.
pub async fn read_topic(
    brokers: &str,
    topic: &str,
    count: usize,
    within: Duration,
) -> Vec<Vec<u8>> {
    use rdkafka::ClientConfig;
    use rdkafka::consumer::{Consumer, StreamConsumer};
    use rdkafka::message::Message;

    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", crate::unique_name("test-reader"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("a Kafka consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let deadline = Instant::now() + within;
    let mut payloads = Vec::new();
    while payloads.len() < count && Instant::now() < deadline {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, consumer.recv()).await {
            Ok(Ok(message)) => {
                payloads.push(message.payload().map(<[u8]>::to_vec).unwrap_or_default())
            }
            Ok(Err(err)) => tracing::debug!(%err, "kafka read error"),
            Err(_) => break,
        }
    }
    payloads
}

/// Writes one record to `topic`, keyed by `key`.
pub async fn produce(brokers: &str, topic: &str, key: &str, payload: &[u8]) {
    use rdkafka::ClientConfig;
    use rdkafka::producer::{FutureProducer, FutureRecord};

    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("message.timeout.ms", "10000")
        .create()
        .expect("a Kafka producer");
    producer
        .send(
            FutureRecord::to(topic).key(key).payload(payload),
            Duration::from_secs(10),
        )
        .await
        .map_err(|(err, _)| err)
        .expect("Kafka accepts the record");
}
