//! Accounts and sessions through the user service's HTTP API, against the real local MongoDB
//! and Redis.

use std::time::{Duration, Instant, SystemTime};

use common::identity::{Caller, IDENTITY_HEADER, Identity, IdentityKey};
use common::infra::mongo::MongoSettings;
use mongodb::bson::doc;
use serde_json::{Value, json};
use testkit::{IDENTITY_SECRET, Infra, TestService, identity_key, unique_name};
use user_service::{Config, LoginLimits, SessionPolicy};

/// What the gateway signs for its own calls, from a browser at `address`.
fn gateway_token(address: &str) -> String {
    identity_key().sign_as(Caller::Gateway, None, Some(address), SystemTime::now())
}

struct App {
    service: TestService,
    mongo: MongoSettings,
    /// The browser address of calls that do not name one.
    address: String,
}

async fn spawn_app_with(sessions: SessionPolicy, login_limits: LoginLimits) -> App {
    let config = Config {
        sessions,
        login_limits,
        ..Config::for_tests(&Infra::from_env())
    };
    let mongo = config.mongo.clone();
    let service = testkit::spawn(user_service::build(config).await.expect("user service")).await;
    App {
        service,
        mongo,
        address: unique_name("192.0.2.10"),
    }
}

/// A service with one-minute sessions and these sign-in limits.
async fn spawn_app_limited(limits: LoginLimits) -> App {
    spawn_app_with(
        SessionPolicy {
            idle: Duration::from_secs(60),
            absolute: Duration::from_secs(60),
        },
        limits,
    )
    .await
}

async fn spawn_app() -> App {
    spawn_app_with(
        SessionPolicy {
            idle: Duration::from_secs(3600),
            absolute: Duration::from_secs(7200),
        },
        LoginLimits::default(),
    )
    .await
}

impl App {
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.post_from(path, body, &self.address).await
    }

    /// A POST as the gateway makes it for a browser at `address`.
    async fn post_from(&self, path: &str, body: Value, address: &str) -> (u16, Value) {
        self.post_signed(path, body, Some(&gateway_token(address)))
            .await
    }

    async fn post_signed(&self, path: &str, body: Value, token: Option<&str>) -> (u16, Value) {
        let mut request = self.service.post(path).json(&body);
        if let Some(token) = token {
            request = request.header(IDENTITY_HEADER, token);
        }
        testkit::answers::send(request).await
    }

    async fn register(&self, email: &str, password: &str, name: &str) -> (u16, Value) {
        self.post(
            "/v1/users",
            json!({ "email": email, "password": password, "display_name": name }),
        )
        .await
    }

    async fn log_in(&self, email: &str, password: &str) -> (u16, Value) {
        self.log_in_from(email, password, &unique_name("client"))
            .await
    }

    async fn log_in_from(&self, email: &str, password: &str, address: &str) -> (u16, Value) {
        self.post_from(
            "/v1/sessions",
            json!({ "email": email, "password": password }),
            address,
        )
        .await
    }

    async fn whoami(&self, session_id: &str) -> (u16, Value) {
        self.post("/v1/sessions/current", json!({ "session_id": session_id }))
            .await
    }
}

fn email() -> String {
    format!("{}@example.com", unique_name("user"))
}

#[tokio::test]
async fn register_log_in_who_am_i_and_log_out() {
    let app = spawn_app().await;
    let email = email();

    let (status, body) = app.register(&email, "correct horse", "Alice").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["user"]["display_name"], "Alice");
    assert_eq!(body["user"]["email"], email.as_str());
    assert!(
        body["user"].get("password_hash").is_none(),
        "the hash must never leave the service: {body}"
    );

    let (status, login) = app.log_in(&email.to_uppercase(), "correct horse").await;
    assert_eq!(status, 201, "emails are case-insensitive: {login}");
    let session = login["session_id"].as_str().expect("session id").to_owned();
    assert_eq!(session.len(), 64, "256 random bits as hex");

    let (status, me) = app.whoami(&session).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["user"]["display_name"], "Alice");

    let (status, _) = app
        .post("/v1/sessions/end", json!({ "session_id": session }))
        .await;
    assert_eq!(status, 204);
    let (status, body) = app.whoami(&session).await;
    assert_eq!(status, 404, "an ended session is no session: {body}");
    let (status, _) = app
        .post("/v1/sessions/end", json!({ "session_id": session }))
        .await;
    assert_eq!(status, 204, "logging out twice is harmless");
}

#[tokio::test]
async fn redis_holds_no_session_id_only_its_hash() {
    use fred::prelude::{ClientLike, KeysInterface};
    let app = spawn_app().await;
    let email = email();
    app.register(&email, "correct horse", "Quin").await;
    let (_, login) = app.log_in(&email, "correct horse").await;
    let session = login["session_id"].as_str().expect("session id").to_owned();
    let redis = common::infra::redis::connect(&Infra::from_env().redis_url).expect("redis");
    redis.wait_for_connect().await.expect("connect");
    let found: Vec<String> = redis
        .custom(
            fred::types::CustomCommand::new_static("KEYS", None, false),
            vec![format!("*{session}*")],
        )
        .await
        .expect("KEYS");
    assert!(found.is_empty(), "a key names the session id: {found:?}");
    let exists: i64 = redis
        .exists(format!("session:{session}"))
        .await
        .expect("EXISTS");
    assert_eq!(exists, 0);
    // Nor any value: a dump of Redis gives no cookie that works.
    let user_id = login["user"]["id"].as_str().expect("user id");
    let members: Vec<String> =
        fred::prelude::SetsInterface::smembers(&redis, format!("user-sessions:{user_id}"))
            .await
            .expect("SMEMBERS");
    assert_eq!(members.len(), 1);
    assert_ne!(members[0], session);
    assert_eq!(app.whoami(&session).await.0, 200, "and the session works");
}

#[tokio::test]
async fn every_login_gets_a_new_session_id() {
    let app = spawn_app().await;
    let email = email();
    app.register(&email, "correct horse", "Bo").await;
    let (_, first) = app.log_in(&email, "correct horse").await;
    let (_, second) = app.log_in(&email, "correct horse").await;
    assert_ne!(first["session_id"], second["session_id"]);
}

#[tokio::test]
async fn passwords_are_stored_as_argon2id_with_owasp_parameters() {
    let app = spawn_app().await;
    let email = email();
    app.register(&email, "correct horse", "Cy").await;
    let database = app.mongo.database("test").await.expect("mongo");
    let user = database
        .collection::<mongodb::bson::Document>("users")
        .find_one(doc! { "email_key": email.to_lowercase() })
        .await
        .expect("find")
        .expect("stored");
    let hash = user.get_str("password_hash").expect("hash");
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(!hash.contains("correct horse"));
}

#[tokio::test]
async fn the_same_email_in_other_letters_cannot_register_twice() {
    let app = spawn_app().await;
    let email = email();
    assert_eq!(app.register(&email, "correct horse", "Di").await.0, 201);
    let (status, body) = app
        .register(&email.to_uppercase(), "another pass", "Di2")
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["field"], "email");
}

#[tokio::test]
async fn concurrent_registrations_of_one_email_create_one_account() {
    let app = spawn_app().await;
    let email = email();
    let names: Vec<String> = (0..8).map(|i| format!("Racer {i}")).collect();
    let attempts = names
        .iter()
        .map(|name| app.register(&email, "correct horse", name));
    let statuses: Vec<u16> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn bad_registrations_get_a_4xx_naming_the_field() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({ "email": "not-an-email", "password": "correct horse", "display_name": "A" }),
            "email",
        ),
        (
            json!({ "email": { "$gt": "" }, "password": "correct horse", "display_name": "A" }),
            "email",
        ),
        (
            json!({ "password": "correct horse", "display_name": "A" }),
            "email",
        ),
        (
            json!({ "email": email(), "password": "short", "display_name": "A" }),
            "password",
        ),
        (
            json!({ "email": email(), "password": "x".repeat(129), "display_name": "A" }),
            "password",
        ),
        (
            json!({ "email": email(), "password": 12345678, "display_name": "A" }),
            "password",
        ),
        (
            json!({ "email": email(), "password": "correct horse", "display_name": "  " }),
            "display_name",
        ),
        (
            json!({ "email": email(), "password": "correct horse", "display_name": "A", "role": "admin" }),
            "role",
        ),
        (
            json!({ "email": email(), "password": "correct horse", "display_name": "A", "$where": "1" }),
            "$where",
        ),
    ];
    for (body, field) in cases {
        let (status, answer) = app.post("/v1/users", body.clone()).await;
        assert_eq!(status, 422, "{body} → {answer}");
        assert_eq!(answer["field"], field, "{body} → {answer}");
        assert!(
            answer["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{answer}"
        );
    }
    let response = app
        .service
        .post("/v1/users")
        .header(IDENTITY_HEADER, gateway_token(&app.address))
        .body("[1,2]")
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status().as_u16(), 400);
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_get_the_same_answer() {
    let app = spawn_app().await;
    let email = email();
    app.register(&email, "correct horse", "Ed").await;
    let wrong_password = app.log_in(&email, "wrong horse").await;
    let unknown_email = app
        .log_in(&format!("nobody-{email}"), "correct horse")
        .await;
    let operator = app
        .post(
            "/v1/sessions",
            json!({ "email": { "$ne": "" }, "password": "x" }),
        )
        .await;
    assert_eq!(wrong_password.0, 401);
    assert_eq!(wrong_password, unknown_email);
    assert_eq!(wrong_password.1["error"], "invalid email or password");
    assert_eq!(operator.0, 422, "{:?}", operator.1);
}

#[tokio::test]
async fn repeated_failures_lock_that_address_out_of_the_account_and_the_lock_grows() {
    let limits = LoginLimits {
        first_lock: Duration::from_secs(2),
        ..LoginLimits::default()
    };
    let app = spawn_app_limited(limits).await;
    let (victim, bystander) = (email(), email());
    app.register(&victim, "correct horse", "Fay").await;
    app.register(&bystander, "correct horse", "Gus").await;
    let attacker = unique_name("203.0.113.66");
    let guess = |email: String| {
        let attacker = attacker.clone();
        let app = &app;
        async move { app.log_in_from(&email, "guess", &attacker).await.0 }
    };

    for _ in 0..5 {
        assert_eq!(guess(victim.clone()).await, 401);
    }
    let (status, body) = app.log_in_from(&victim, "correct horse", &attacker).await;
    assert_eq!(
        status, 429,
        "locked from that address even with the right password: {body}"
    );
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("try again"),
        "{body}"
    );
    assert_eq!(
        app.log_in_from(&bystander, "correct horse", &attacker)
            .await
            .0,
        201,
        "other accounts are not locked"
    );

    tokio::time::sleep(Duration::from_millis(2_300)).await;
    assert_eq!(
        guess(victim.clone()).await,
        401,
        "the first lock has passed"
    );
    let (status, _) = app.log_in_from(&victim, "correct horse", &attacker).await;
    assert_eq!(
        status, 429,
        "the sixth failure locked it again, for longer (4 s)"
    );
    tokio::time::sleep(Duration::from_millis(2_300)).await;
    assert_eq!(
        app.log_in_from(&victim, "correct horse", &attacker).await.0,
        429,
        "still locked after the first lock's length"
    );
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    assert_eq!(
        app.log_in_from(&victim, "correct horse", &attacker).await.0,
        201,
        "and open again afterwards"
    );
}

#[tokio::test]
async fn an_attacker_cannot_lock_the_owner_out_from_their_own_address() {
    let limits = LoginLimits {
        account_failures_before_slowdown: 4,
        slowdown: Duration::from_millis(300),
        ..LoginLimits::default()
    };
    let app = spawn_app_limited(limits).await;
    let victim = email();
    app.register(&victim, "correct horse", "Hal").await;
    let attacker = unique_name("203.0.113.99");
    let owner = unique_name("198.51.100.42");

    // The attacker keeps failing, well past the lock and the slowdown...
    let mut refused = 0;
    for _ in 0..12 {
        match app.log_in_from(&victim, "guess", &attacker).await.0 {
            401 => {}
            429 => refused += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert!(
        refused >= 6,
        "the attacker's address was locked ({refused} refusals)"
    );
    // ...and the owner, from another address, still gets in, only slowed down.
    let started = Instant::now();
    let (status, body) = app.log_in_from(&victim, "correct horse", &owner).await;
    assert_eq!(status, 201, "{body}");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "an account under attack is slowed down for everyone"
    );
    assert_eq!(
        app.log_in_from(&victim, "correct horse", &attacker).await.0,
        429,
        "the attacker's address stays locked out even with the right password"
    );
}

#[tokio::test]
async fn only_the_gateways_own_token_is_accepted() {
    let app = spawn_app().await;
    let body = json!({ "email": email(), "password": "correct horse", "display_name": "Ida" });
    let (status, _) = app.post_signed("/v1/users", body.clone(), None).await;
    assert_eq!(status, 401, "no token");
    let forged = IdentityKey::new("another-secret-0123456789abcdefghij".to_owned().into())
        .expect("secret")
        .sign_as(Caller::Gateway, None, Some("192.0.2.1"), SystemTime::now());
    let (status, _) = app
        .post_signed("/v1/users", body.clone(), Some(&forged))
        .await;
    assert_eq!(status, 401, "a token signed with another secret");
    let user = Identity {
        user_id: "665f1c2e9b1d8a0012345678".parse().expect("an id"),
        display_name: "Ida".into(),
        email: "ida@example.com".into(),
    };
    for caller in [Caller::User, Caller::Transaction] {
        let token =
            identity_key().sign_as(caller, Some(&user), Some("192.0.2.1"), SystemTime::now());
        for path in [
            "/v1/users",
            "/v1/sessions",
            "/v1/sessions/current",
            "/v1/sessions/end",
        ] {
            let (status, answer) = app.post_signed(path, body.clone(), Some(&token)).await;
            assert_eq!(status, 403, "{caller:?} at {path}: {answer}");
        }
    }
}

#[tokio::test]
async fn registrations_are_limited_per_client_address() {
    let limits = LoginLimits {
        registrations_per_address_per_hour: 3,
        ..LoginLimits::default()
    };
    let app = spawn_app_limited(limits).await;
    let address = unique_name("203.0.113.12");
    let register_from = |address: String| {
        let app = &app;
        async move {
            let body =
                json!({ "email": email(), "password": "correct horse", "display_name": "Jo" });
            let response = app
                .service
                .post("/v1/users")
                .header(IDENTITY_HEADER, gateway_token(&address))
                .json(&body)
                .send()
                .await
                .expect("POST");
            let retry_after = response.headers().get("retry-after").cloned();
            (response.status().as_u16(), retry_after)
        }
    };
    for _ in 0..3 {
        assert_eq!(register_from(address.clone()).await.0, 201);
    }
    let (status, retry_after) = register_from(address.clone()).await;
    assert_eq!(status, 429, "the fourth account from one address this hour");
    assert!(retry_after.is_some(), "429 says when to come back");
    assert_eq!(
        register_from(unique_name("203.0.113.13")).await.0,
        201,
        "another address is not limited"
    );
}

/// Resident memory of a process, from /proc.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn three_hundred_concurrent_registrations_keep_memory_bounded() {
    // The real binary in its own process, so its memory is its own.
    let infra = Infra::from_env();
    let port = testkit::free_port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_user-service"))
        .env("PORT", port.to_string())
        .env("MONGODB_URI", &infra.mongodb_uri)
        .env("MONGODB_DATABASE", unique_name("users"))
        .env("REDIS_URL", &infra.redis_url)
        .env("INTERNAL_AUTH_SECRET", IDENTITY_SECRET)
        .env("REGISTRATIONS_PER_ADDRESS_PER_HOUR", "100000")
        .env("RUST_LOG", "warn")
        .spawn()
        .expect("start the user service");
    struct Reap(std::process::Child);
    impl Drop for Reap {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let pid = child.id();
    let base = format!("http://127.0.0.1:{port}");
    testkit::wait_until_process_ready(&base, &mut child, Duration::from_secs(30)).await;
    let child = Reap(child);
    let before = rss_kib(pid);

    let http = reqwest::Client::new();
    let address = unique_name("203.0.113.30");
    let burst = (0..300).map(|n| {
        let (http, base, token) = (http.clone(), base.clone(), gateway_token(&address));
        async move {
            let body = json!({
                "email": format!("{}-{n}@example.com", unique_name("crowd")),
                "password": "correct horse",
                "display_name": "Crowd",
            });
            http.post(format!("{base}/v1/users"))
                .header(IDENTITY_HEADER, token)
                .json(&body)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    });
    let watching = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let peak = tokio::spawn({
        let watching = watching.clone();
        async move {
            let mut peak = 0;
            while watching.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(rss_kib(pid));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            peak
        }
    });
    let statuses = futures::future::join_all(burst).await;
    watching.store(false, std::sync::atomic::Ordering::Relaxed);
    let peak = peak.await.expect("watcher");
    drop(child);

    let mut counts = std::collections::BTreeMap::new();
    for status in &statuses {
        *counts.entry(*status).or_insert(0) += 1;
    }
    assert!(
        statuses.iter().all(|s| matches!(s, 201 | 429 | 503)),
        "every answer is 2xx, 429 or 503: {counts:?}"
    );
    assert!(
        counts.get(&201).copied().unwrap_or(0) > 0,
        "some got in: {counts:?}"
    );
    // A few hashes at a time at 19 MiB each; unbounded, 300 of them took 6 GiB.
    let growth_mib = peak.saturating_sub(before) / 1024;
    eprintln!("300 registrations: {counts:?}, resident memory +{growth_mib} MiB");
    assert!(
        growth_mib < 300,
        "resident memory grew by {growth_mib} MiB (from {} MiB): {counts:?}",
        before / 1024
    );
}

#[tokio::test]
async fn one_client_address_is_rate_limited() {
    let limits = LoginLimits {
        attempts_per_address_per_minute: 3,
        ..LoginLimits::default()
    };
    let app = spawn_app_limited(limits).await;
    let address = unique_name("203.0.113.7");
    let mut limited = 0;
    for n in 0..10 {
        // Different emails, so no account lock is involved.
        let (status, _) = app
            .log_in_from(&format!("a{n}-{}", email()), "whatever1", &address)
            .await;
        if status == 429 {
            limited += 1;
        }
    }
    // Ten attempts span at most two one-minute windows of three: at least four are refused.
    assert!(limited >= 4, "only {limited} of 10 attempts were limited");
    let (status, _) = app
        .log_in_from(&email(), "whatever1", &unique_name("198.51.100.1"))
        .await;
    assert_eq!(status, 401, "another address is not limited");
}

#[tokio::test]
async fn an_idle_session_expires() {
    let app = spawn_app_with(
        SessionPolicy {
            idle: Duration::from_secs(1),
            absolute: Duration::from_secs(60),
        },
        LoginLimits::default(),
    )
    .await;
    let email = email();
    app.register(&email, "correct horse", "Hal").await;
    let (_, login) = app.log_in(&email, "correct horse").await;
    let session = login["session_id"].as_str().expect("session").to_owned();
    assert_eq!(app.whoami(&session).await.0, 200);
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    assert_eq!(app.whoami(&session).await.0, 404);
}

#[tokio::test]
async fn a_busy_session_still_ends_at_the_absolute_timeout() {
    let app = spawn_app_with(
        SessionPolicy {
            idle: Duration::from_secs(2),
            absolute: Duration::from_secs(3),
        },
        LoginLimits::default(),
    )
    .await;
    let email = email();
    app.register(&email, "correct horse", "Ida").await;
    let (_, login) = app.log_in(&email, "correct horse").await;
    let session = login["session_id"].as_str().expect("session").to_owned();
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(900)).await;
        assert_eq!(app.whoami(&session).await.0, 200, "in use, so not idle");
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(
        app.whoami(&session).await.0,
        404,
        "past the absolute timeout"
    );
}
