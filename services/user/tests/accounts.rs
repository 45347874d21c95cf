//! Accounts and sessions through the user service's HTTP API, against the real local MongoDB
//! and Redis.

use std::time::Duration;

use common::infra::mongo::MongoSettings;
use mongodb::bson::doc;
use serde_json::{Value, json};
use testkit::{Infra, TestService, unique_name};
use user_service::{Config, LoginLimits, SessionPolicy};

struct App {
    service: TestService,
    mongo: MongoSettings,
}

async fn spawn_app_with(sessions: SessionPolicy, login_limits: LoginLimits) -> App {
    let infra = Infra::from_env();
    let mongo = MongoSettings {
        uri: infra.mongodb_uri.clone(),
        database: unique_name("users"),
    };
    let config = Config {
        listen: "127.0.0.1:0".parse().expect("address"),
        mongo: mongo.clone(),
        redis_url: infra.redis_url,
        sessions,
        login_limits,
    };
    let service = testkit::spawn(user_service::build(config).await.expect("user service")).await;
    App { service, mongo }
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
        let response = self
            .service
            .http
            .post(self.service.url(path))
            .json(&body)
            .send()
            .await
            .expect("POST");
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
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
        self.post(
            "/v1/sessions",
            json!({ "email": email, "password": password, "client_address": address }),
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
    assert_eq!(status, 401, "{body}");
    let (status, _) = app
        .post("/v1/sessions/end", json!({ "session_id": session }))
        .await;
    assert_eq!(status, 204, "logging out twice is harmless");
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
        .http
        .post(app.service.url("/v1/users"))
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
async fn repeated_failures_lock_the_account_and_the_lock_grows() {
    let limits = LoginLimits {
        first_lock: Duration::from_secs(2),
        ..LoginLimits::default()
    };
    let app = spawn_app_with(
        SessionPolicy {
            idle: Duration::from_secs(60),
            absolute: Duration::from_secs(60),
        },
        limits,
    )
    .await;
    let (victim, bystander) = (email(), email());
    app.register(&victim, "correct horse", "Fay").await;
    app.register(&bystander, "correct horse", "Gus").await;

    for _ in 0..5 {
        assert_eq!(app.log_in(&victim, "guess").await.0, 401);
    }
    let (status, body) = app.log_in(&victim, "correct horse").await;
    assert_eq!(status, 429, "locked even with the right password: {body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("try again"),
        "{body}"
    );
    assert_eq!(
        app.log_in(&bystander, "correct horse").await.0,
        201,
        "other accounts are not locked"
    );

    tokio::time::sleep(Duration::from_millis(2_300)).await;
    assert_eq!(
        app.log_in(&victim, "guess").await.0,
        401,
        "the first lock has passed"
    );
    let (status, _) = app.log_in(&victim, "correct horse").await;
    assert_eq!(
        status, 429,
        "the sixth failure locked it again, for longer (4 s)"
    );
    tokio::time::sleep(Duration::from_millis(2_300)).await;
    assert_eq!(
        app.log_in(&victim, "correct horse").await.0,
        429,
        "still locked after the first lock's length"
    );
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    assert_eq!(
        app.log_in(&victim, "correct horse").await.0,
        201,
        "and open again afterwards"
    );
}

#[tokio::test]
async fn one_client_address_is_rate_limited() {
    let limits = LoginLimits {
        attempts_per_address_per_minute: 3,
        ..LoginLimits::default()
    };
    let app = spawn_app_with(
        SessionPolicy {
            idle: Duration::from_secs(60),
            absolute: Duration::from_secs(60),
        },
        limits,
    )
    .await;
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
    assert_eq!(app.whoami(&session).await.0, 401);
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
        401,
        "past the absolute timeout"
    );
}
