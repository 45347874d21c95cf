//! Live sockets against real notification instances and the real Redis: presence counted
//! across instances, relaying, the user topic, Origin checks and the per-socket limits.

use std::time::{Duration, Instant, SystemTime};
use wire::redis_channels;

use common::identity::{Caller, IDENTITY_HEADER, Identity, IdentityKey};
use common::infra::redis::publish_live;
use notification_service::{Config, Limits, PresenceTiming};
use testkit::{Ending, IDENTITY_SECRET, Infra, LiveSocket, TestService, identity_key};
use wire::events::LiveEvent;
use wire::socket::ServerMessage;

const ORIGIN: &str = "http://shop.test";
/// Presence timing of every instance here: a crashed instance's viewers leave within 3 s.
const TTL_SECS: u64 = 2;
const HEARTBEAT_SECS: u64 = 1;
const WAIT: Duration = Duration::from_secs(10);

fn config(limits: Limits) -> Config {
    Config {
        allowed_origins: vec![ORIGIN.to_owned()],
        limits,
        presence: PresenceTiming {
            ttl: Duration::from_secs(TTL_SECS),
            heartbeat: Duration::from_secs(HEARTBEAT_SECS),
        },
        ..Config::for_tests(&Infra::from_env())
    }
}

async fn instance() -> TestService {
    instance_with(Limits::default()).await
}

async fn instance_with(limits: Limits) -> TestService {
    let service = notification_service::build(config(limits))
        .await
        .expect("service builds");
    testkit::spawn(service).await
}

fn live_url(base_url: &str) -> String {
    format!("{}/v1/live", base_url.replacen("http://", "ws://", 1))
}

/// The gateway's token for an anonymous visitor at `address`.
fn anonymous_at(address: &str) -> String {
    identity_key().sign_as(Caller::Gateway, None, Some(address), SystemTime::now())
}

/// An anonymous visitor's socket, from an address of its own.
async fn socket(base_url: &str) -> LiveSocket {
    let token = anonymous_at(&testkit::unique_name("192.0.2.1"));
    LiveSocket::connect(
        &live_url(base_url),
        Some(ORIGIN),
        &[(IDENTITY_HEADER, &token)],
    )
    .await
    .expect("socket accepted")
}

/// An item id no other test uses.
fn new_item_id() -> wire::ItemId {
    format!("{:024x}", rand_id()).parse().expect("an id")
}

fn rand_id() -> u128 {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    (nanos ^ (u128::from(std::process::id()) << 64)) & ((1 << 96) - 1)
}

/// A purchase of a red lamp by `buyer`, as the transaction service announces it on the feed.
fn purchase_by(buyer: &str) -> LiveEvent {
    LiveEvent::Purchase {
        buyer_name: buyer.to_owned(),
        titles: vec!["Red Lamp".into()],
        at: 1,
    }
}

fn redis() -> fred::prelude::Client {
    common::infra::redis::connect(&Infra::from_env().redis_url).expect("redis client")
}

/// The notification service binary as its own process, so it can be killed like a crash.
struct ChildInstance {
    child: std::process::Child,
    base_url: String,
}

impl ChildInstance {
    async fn start() -> Self {
        Self::start_with_ttl(TTL_SECS).await
    }

    async fn start_with_ttl(ttl_secs: u64) -> Self {
        let port = testkit::free_port();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_notification-service"))
            .env("PORT", port.to_string())
            .env("REDIS_URL", Infra::from_env().redis_url)
            .env("INTERNAL_AUTH_SECRET", IDENTITY_SECRET)
            .env("ALLOWED_ORIGINS", ORIGIN)
            .env("PRESENCE_TTL_SECS", ttl_secs.to_string())
            .env("PRESENCE_HEARTBEAT_SECS", HEARTBEAT_SECS.to_string())
            .env("RUST_LOG", "warn")
            .spawn()
            .expect("start the notification service");
        let base_url = format!("http://127.0.0.1:{port}");
        testkit::wait_until_process_ready(&base_url, &mut child, WAIT).await;
        Self { child, base_url }
    }

    /// SIGTERM, as an orchestrator stops a container, and waits for the process to end.
    fn terminate(&mut self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        self.child.wait().expect("reap");
    }

    /// SIGKILL: no goodbye to Redis, its viewers stay until their entries expire.
    fn kill(&mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("reap");
    }
}

impl Drop for ChildInstance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn viewers_on_two_instances_are_counted_once_and_a_crashed_instances_viewers_leave() {
    let a = instance().await;
    let mut b = ChildInstance::start().await;
    let item = new_item_id();
    let topic = format!("item:{item}");

    let mut on_a = socket(&a.base_url).await.subscribed(&topic).await;
    on_a.wait_for_viewers(item.as_str(), 1, WAIT).await;
    let mut also_on_a = socket(&a.base_url).await.subscribed(&topic).await;
    let mut on_b = socket(&b.base_url).await.subscribed(&topic).await;
    let mut second_on_b = socket(&b.base_url).await.subscribed(&topic).await;
    for viewer in [&mut on_a, &mut also_on_a, &mut on_b, &mut second_on_b] {
        viewer.wait_for_viewers(item.as_str(), 4, WAIT).await;
    }

    // Closing a tab takes it out at once.
    second_on_b.close().await;
    on_a.wait_for_viewers(item.as_str(), 3, WAIT).await;
    on_b.wait_for_viewers(item.as_str(), 3, WAIT).await;

    // The instance's own /metrics counts its open sockets (one process, so exactly).
    let started = Instant::now();
    loop {
        let text = reqwest::get(format!("{}/metrics", b.base_url))
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("metrics text");
        if text.lines().any(|line| line == "live_open_sockets 1") {
            break;
        }
        assert!(
            started.elapsed() < WAIT,
            "live_open_sockets never became 1:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A crash says nothing: the entries expire, and a survivor's heartbeat publishes it.
    let killed = Instant::now();
    b.kill();
    let bound = Duration::from_secs(TTL_SECS + HEARTBEAT_SECS);
    on_a.wait_for_viewers(item.as_str(), 2, bound + Duration::from_secs(2))
        .await;
    also_on_a.wait_for_viewers(item.as_str(), 2, WAIT).await;
    println!(
        "a crashed instance's viewer left the count after {:?} (bound {bound:?})",
        killed.elapsed()
    );
}

#[tokio::test]
async fn a_gracefully_stopped_instances_viewers_leave_at_once() {
    let a = instance().await;
    // Entries that would only expire after a minute: a quick drop is the goodbye, not expiry.
    let mut b = ChildInstance::start_with_ttl(60).await;
    let item = new_item_id();
    let topic = format!("item:{item}");
    let mut on_a = socket(&a.base_url).await.subscribed(&topic).await;
    let _on_b = socket(&b.base_url).await.subscribed(&topic).await;
    on_a.wait_for_viewers(item.as_str(), 2, WAIT).await;

    b.terminate();
    on_a.wait_for_viewers(item.as_str(), 1, Duration::from_secs(10))
        .await;
}

#[tokio::test]
async fn one_published_event_reaches_sockets_on_both_instances_exactly_once() {
    let a = instance().await;
    let b = instance().await;
    let mut on_a = socket(&a.base_url).await.subscribed("feed").await;
    let mut on_b = socket(&b.base_url).await.subscribed("feed").await;
    let buyer = format!("Buyer {}", rand_id());

    publish_live(&redis(), redis_channels::FEED, &purchase_by(&buyer)).await;

    for socket in [&mut on_a, &mut on_b] {
        let mine: Vec<LiveEvent> = socket
            .events_during("feed", Duration::from_secs(2))
            .await
            .into_iter()
            .filter(|e| matches!(e, LiveEvent::Purchase { buyer_name, .. } if *buyer_name == buyer))
            .collect();
        assert_eq!(mine.len(), 1, "exactly one feed event per socket: {mine:?}");
    }
}

#[tokio::test]
async fn a_busy_feed_and_item_arrive_coalesced_with_the_latest_purchases_and_exact_numbers() {
    let service = instance().await;
    let item = new_item_id();
    let topic = format!("item:{item}");
    let mut watcher = socket(&service.base_url)
        .await
        .subscribed("feed")
        .await
        .subscribed(&topic)
        .await;
    let frames_before = watcher.frames_received();
    let (redis, run) = (redis(), rand_id());
    let purchases = 300;

    // About 300 purchases of the item a second, for a second: far more than a page can show.
    let started = Instant::now();
    for n in 1..=purchases {
        publish_live(
            &redis,
            redis_channels::FEED,
            &LiveEvent::Purchase {
                buyer_name: format!("Busy {run} {n}"),
                titles: vec!["Red Lamp".into()],
                at: n,
            },
        )
        .await;
        publish_live(
            &redis,
            &redis_channels::item(&item),
            &LiveEvent::ItemChanged {
                item_id: item.clone(),
                sold: n,
                stock: purchases - n,
            },
        )
        .await;
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    let publishing = started.elapsed();

    let feed = watcher.events_during("feed", Duration::from_secs(1)).await;
    let numbers = watcher
        .events_during(&topic, Duration::from_millis(300))
        .await;
    let frames = watcher.frames_received() - frames_before;
    let mine: Vec<i64> = feed
        .iter()
        .filter_map(|e| match e {
            LiveEvent::Purchase { buyer_name, at, .. }
                if buyer_name.starts_with(&format!("Busy {run} ")) =>
            {
                Some(*at)
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        mine.last(),
        Some(&purchases),
        "the latest purchase reaches the banner"
    );
    assert!(
        mine.windows(2).all(|pair| pair[0] < pair[1]),
        "purchases arrive in order: {mine:?}"
    );
    assert!(
        mine.len() < purchases as usize / 2,
        "a busy feed is coalesced: {} of {purchases} purchases sent",
        mine.len()
    );
    assert_eq!(
        numbers.last(),
        Some(&LiveEvent::ItemChanged {
            item_id: item.clone(),
            sold: purchases,
            stock: 0,
        }),
        "the item's numbers end exact"
    );
    // At most one frame per topic per 100 ms window, and the first of a quiet spell.
    let windows = publishing.as_millis() as usize / 100 + 3;
    assert!(
        frames <= 2 * windows,
        "{frames} frames for {} events in {publishing:?} (at most {} expected)",
        2 * purchases,
        2 * windows
    );
}

#[tokio::test]
async fn an_item_topic_carries_only_that_items_events() {
    let service = instance().await;
    let (item, other) = (new_item_id(), new_item_id());
    let mut viewer = socket(&service.base_url)
        .await
        .subscribed(&format!("item:{item}"))
        .await;
    let redis = redis();
    for id in [&other, &item] {
        publish_live(
            &redis,
            &redis_channels::item(id),
            &LiveEvent::ItemChanged {
                item_id: id.clone(),
                sold: 7,
                stock: 3,
            },
        )
        .await;
    }
    let events = viewer
        .events_during(&format!("item:{item}"), Duration::from_secs(1))
        .await;
    let changes: Vec<&LiveEvent> = events
        .iter()
        .filter(|e| matches!(e, LiveEvent::ItemChanged { .. }))
        .collect();
    assert_eq!(
        changes,
        [&LiveEvent::ItemChanged {
            item_id: item.clone(),
            sold: 7,
            stock: 3
        }]
    );
}

#[tokio::test]
async fn the_user_topic_needs_a_valid_signed_identity_and_sign_out_closes_the_socket() {
    let service = instance().await;
    let url = live_url(&service.base_url);

    let mut anonymous = socket(&service.base_url).await;
    match anonymous.subscribe("user").await {
        ServerMessage::Refused { reason, .. } => assert!(reason.contains("log in"), "{reason}"),
        other => panic!("expected a refusal, got {other:?}"),
    }

    let alice = Identity {
        user_id: format!("{:024x}", rand_id()).parse().expect("an id"),
        display_name: "Alice".into(),
        email: "alice@example.com".into(),
    };
    let forged = IdentityKey::new("someone-elses-secret-0123456789abcdef".to_owned().into())
        .expect("secret")
        .sign(&alice, SystemTime::now());
    let refused = LiveSocket::connect(&url, Some(ORIGIN), &[(IDENTITY_HEADER, &forged)]).await;
    assert_eq!(refused.err(), Some(401), "a forged identity gets no socket");
    let expired = identity_key().sign(&alice, SystemTime::now() - Duration::from_secs(3600));
    let refused = LiveSocket::connect(&url, Some(ORIGIN), &[(IDENTITY_HEADER, &expired)]).await;
    assert_eq!(
        refused.err(),
        Some(401),
        "an expired identity gets no socket"
    );

    let signed = identity_key().sign(&alice, SystemTime::now());
    let mut alices = LiveSocket::connect(&url, Some(ORIGIN), &[(IDENTITY_HEADER, &signed)])
        .await
        .expect("accepted")
        .subscribed("user")
        .await;
    let redis = redis();
    let changed = LiveEvent::PurchasesChanged {
        transaction_id: "0000000000000000000000f1".parse().expect("an id"),
    };
    publish_live(&redis, &redis_channels::user(&alice.user_id), &changed).await;
    assert_eq!(
        alices.events_during("user", Duration::from_secs(1)).await,
        [changed]
    );

    publish_live(
        &redis,
        &redis_channels::user(&alice.user_id),
        &LiveEvent::SignedOut,
    )
    .await;
    match alices.ending(WAIT).await {
        Some(Ending::Closed(Some(frame))) => assert_eq!(frame.reason.as_str(), "signed out"),
        other => panic!("expected the socket to close on sign-out, got {other:?}"),
    }
    // The anonymous socket is unaffected.
    assert!(anonymous.ending(Duration::from_millis(300)).await.is_none());
}

#[tokio::test]
async fn pages_from_other_origins_cannot_open_a_socket() {
    let service = instance().await;
    let url = live_url(&service.base_url);
    assert_eq!(
        LiveSocket::connect(&url, Some("https://evil.example"), &[])
            .await
            .err(),
        Some(403)
    );
    assert_eq!(LiveSocket::connect(&url, None, &[]).await.err(), Some(403));
    let token = anonymous_at(&testkit::unique_name("192.0.2.2"));
    assert!(
        LiveSocket::connect(
            &url,
            Some("HTTP://SHOP.TEST/"),
            &[(IDENTITY_HEADER, &token)]
        )
        .await
        .is_ok()
    );
}

#[tokio::test]
async fn only_the_gateway_opens_sockets_and_each_address_has_a_cap_across_instances() {
    let limits = Limits {
        max_sockets_per_address: 3,
        ..Limits::default()
    };
    let (a, b) = (instance_with(limits).await, instance_with(limits).await);
    let (url_a, url_b) = (live_url(&a.base_url), live_url(&b.base_url));
    assert_eq!(
        LiveSocket::connect(&url_a, Some(ORIGIN), &[]).await.err(),
        Some(401),
        "no token: not through the gateway"
    );

    let crowd = anonymous_at(&testkit::unique_name("198.51.100.1"));
    let mut open = Vec::new();
    for url in [&url_a, &url_b, &url_a] {
        open.push(
            LiveSocket::connect(url, Some(ORIGIN), &[(IDENTITY_HEADER, &crowd)])
                .await
                .expect("under the cap"),
        );
    }
    assert_eq!(
        LiveSocket::connect(&url_b, Some(ORIGIN), &[(IDENTITY_HEADER, &crowd)])
            .await
            .err(),
        Some(429),
        "the fourth socket of one address, on either instance, is refused"
    );
    let neighbour = anonymous_at(&testkit::unique_name("198.51.100.2"));
    assert!(
        LiveSocket::connect(&url_b, Some(ORIGIN), &[(IDENTITY_HEADER, &neighbour)])
            .await
            .is_ok(),
        "another address is not limited"
    );

    // A closed socket frees its place.
    drop(open.pop());
    let started = Instant::now();
    loop {
        match LiveSocket::connect(&url_b, Some(ORIGIN), &[(IDENTITY_HEADER, &crowd)]).await {
            Ok(_) => break,
            Err(status) => {
                assert_eq!(status, 429);
                assert!(started.elapsed() < WAIT, "the closed socket still counts");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

#[tokio::test]
async fn anonymous_sockets_hold_few_topics_and_made_up_items_leave_no_lasting_keys() {
    let service = instance_with(Limits {
        max_anonymous_subscriptions: 2,
        ..Limits::default()
    })
    .await;
    let mut anonymous = socket(&service.base_url).await;
    let made_up = [new_item_id(), new_item_id(), new_item_id()];
    assert!(matches!(
        anonymous.subscribe(&format!("item:{}", made_up[0])).await,
        ServerMessage::Subscribed { .. }
    ));
    assert!(matches!(
        anonymous.subscribe(&format!("item:{}", made_up[1])).await,
        ServerMessage::Subscribed { .. }
    ));
    match anonymous.subscribe(&format!("item:{}", made_up[2])).await {
        ServerMessage::Refused { reason, .. } => assert!(reason.contains("log in"), "{reason}"),
        other => panic!("a third topic was not refused: {other:?}"),
    }

    // Whatever a made-up item left in Redis goes within the presence TTL once nobody looks.
    let redis = redis();
    fred::prelude::ClientLike::wait_for_connect(&redis)
        .await
        .expect("redis");
    drop(anonymous);
    let keys: Vec<String> = made_up
        .iter()
        .flat_map(|id| {
            [
                format!("presence:item:{id}"),
                format!("presence:item:{id}:seq"),
            ]
        })
        .collect();
    let started = Instant::now();
    loop {
        let mut lifetimes = Vec::new();
        for key in &keys {
            use fred::prelude::KeysInterface;
            let ttl: i64 = redis.pttl(key).await.expect("PTTL");
            lifetimes.push(ttl);
        }
        // -2: gone. Anything still there expires within the TTL, never a day.
        assert!(
            lifetimes
                .iter()
                .all(|&ttl| ttl <= (TTL_SECS * 1000) as i64 && ttl != -1),
            "{lifetimes:?}"
        );
        if lifetimes.iter().all(|&ttl| ttl == -2) {
            break;
        }
        assert!(
            started.elapsed() < WAIT,
            "keys outlived the TTL: {lifetimes:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn redis_coming_back_makes_each_socket_resync_once_and_relaying_resumes() {
    let mut private = testkit::PrivateRedis::start(&[]).await;
    let service = testkit::spawn(
        notification_service::build(Config {
            redis_url: private.url.clone(),
            ..config(Limits::default())
        })
        .await
        .expect("service builds"),
    )
    .await;
    // On two channels: the feed and an item's.
    let mut client = socket(&service.base_url)
        .await
        .subscribed("feed")
        .await
        .subscribed(&format!("item:{}", new_item_id()))
        .await;
    // A socket on no channel has nothing to re-read.
    let mut idle = socket(&service.base_url).await;

    private.restart().await;
    let resync = |m: &ServerMessage| *m == ServerMessage::Resync;
    assert_eq!(client.take(WAIT, resync).await, Some(ServerMessage::Resync));
    assert_eq!(
        client.take(Duration::from_secs(1), resync).await,
        None,
        "one loss, one resync, however many channels the socket is on"
    );
    assert_eq!(idle.next(Duration::from_millis(100)).await, None);

    // The instance subscribed again on the new server: what is published there arrives.
    let publisher =
        common::infra::redis::connect(&private.url).expect("a client of the private Redis");
    let buyer = format!("Buyer {}", rand_id());
    let started = Instant::now();
    loop {
        publish_live(&publisher, redis_channels::FEED, &purchase_by(&buyer)).await;
        let ours = |m: &ServerMessage| {
            matches!(m, ServerMessage::Event { event: LiveEvent::Purchase { buyer_name, .. }, .. }
                if *buyer_name == buyer)
        };
        if client
            .take(Duration::from_millis(500), ours)
            .await
            .is_some()
        {
            break;
        }
        assert!(
            started.elapsed() < WAIT,
            "no feed event after Redis came back"
        );
    }
}

#[tokio::test]
async fn bad_messages_are_answered_and_abuse_closes_the_socket() {
    let service = instance_with(Limits {
        max_message_bytes: 1024,
        messages_per_second: 5,
        burst: 10,
        max_subscriptions: 2,
        max_anonymous_subscriptions: 2,
        ping_every: Duration::from_millis(300),
        idle_timeout: Duration::from_secs(1),
        ..Limits::default()
    })
    .await;

    let mut client = socket(&service.base_url).await;
    client.send_text("hello").await;
    assert!(matches!(
        client.next(WAIT).await,
        Some(ServerMessage::Error { .. })
    ));
    match client.subscribe("orders").await {
        ServerMessage::Refused { reason, .. } => {
            assert!(reason.contains("unknown topic"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    let mut client = client
        .subscribed("feed")
        .await
        .subscribed(&format!("item:{}", new_item_id()))
        .await;
    match client.subscribe(&format!("item:{}", new_item_id())).await {
        ServerMessage::Refused { reason, .. } => assert!(reason.contains("at most 2"), "{reason}"),
        other => panic!("{other:?}"),
    }

    let mut too_big = socket(&service.base_url).await;
    too_big.send_text("x".repeat(4096)).await;
    assert!(
        too_big.ending(WAIT).await.is_some(),
        "an oversized message closes the socket"
    );

    // Within the limit but longer than one read of the socket: still understood whole.
    let mut long = socket(&service.base_url).await;
    let padding = " ".repeat(900);
    long.send_text(format!(r#"{{"op":"subscribe",{padding}"topic":"feed"}}"#))
        .await;
    match long.next(WAIT).await {
        Some(ServerMessage::Subscribed { topic }) => assert_eq!(topic, "feed"),
        other => panic!("expected the long subscribe to be understood, got {other:?}"),
    }

    let mut flood = socket(&service.base_url).await;
    for _ in 0..40 {
        flood
            .send_text(r#"{"op":"unsubscribe","topic":"feed"}"#)
            .await;
    }
    match flood.ending(WAIT).await {
        Some(Ending::Closed(Some(frame))) => assert_eq!(frame.reason.as_str(), "too many messages"),
        other => panic!("expected a rate-limit close, got {other:?}"),
    }

    // A socket that never answers pings (it reads nothing, so it sends no pongs) is closed.
    let mut silent = socket(&service.base_url).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    match silent.ending(WAIT).await {
        Some(Ending::Closed(Some(frame))) => assert_eq!(frame.reason.as_str(), "idle"),
        other => panic!("expected an idle close, got {other:?}"),
    }
    // One that reads (and so answers pings) stays open.
    let mut reader = socket(&service.base_url).await;
    assert!(reader.ending(Duration::from_millis(2500)).await.is_none());
}
