//! The services' OpenAPI documents under test: the served document must be the one the
//! repository keeps, and Schemathesis, fuzzing the running service from that document, must
//! find no server error and no answer the document does not declare.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};

use common::identity::{Caller, Identity};

use crate::TestService;

/// Where the repository keeps `service`'s document: `docs/openapi/<service>.json`.
fn committed_path(service: &str) -> PathBuf {
    crate::workspace_root()
        .join("docs/openapi")
        .join(format!("{service}.json"))
}

/// Asserts that the service serves at `GET /openapi.json` exactly the document the
/// repository keeps for `name`. With `OPENAPI_WRITE=1` (`scripts/openapi.sh`) it writes the
/// served document there instead, so a changed contract is one command and a reviewed diff.
pub async fn assert_committed_document(service: &TestService, name: &str) {
    let response = service
        .get("/openapi.json")
        .send()
        .await
        .expect("GET /openapi.json");
    assert_eq!(response.status().as_u16(), 200, "GET /openapi.json");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/json");
    let served = response.text().await.expect("the document");
    let document: serde_json::Value = serde_json::from_str(&served).expect("JSON");
    assert!(
        document["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "an OpenAPI 3.1 document: {}",
        document["openapi"]
    );
    let path = committed_path(name);
    if std::env::var("OPENAPI_WRITE").as_deref() == Ok("1") {
        std::fs::create_dir_all(path.parent().expect("docs/openapi")).expect("mkdir");
        std::fs::write(&path, &served).unwrap_or_else(|err| panic!("write {path:?}: {err}"));
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == served,
        "{} is not the document the service serves; run scripts/openapi.sh and commit the \
         difference",
        path.display()
    );
}

/// How many generated requests Schemathesis sends each operation, per phase: enough to
/// reach every field's edge cases, small enough for the CI budget.
pub const EXAMPLES_PER_OPERATION: u32 = 40;

/// The checks every answer must pass: no 5xx, and status, content type, headers and body
/// as the document declares them.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_headers_conformance,response_schema_conformance";

/// The two tests of a service's document, for its `tests/api/openapi.rs`:
/// `testkit::openapi_tests!("user", spawn_service())` where the expression gives a
/// [`TestService`] (or anything that derefs to one).
#[macro_export]
macro_rules! openapi_tests {
    ($name:literal, $spawn:expr) => {
        #[tokio::test]
        async fn serves_the_document_the_repository_keeps() {
            let service = $spawn.await;
            $crate::openapi::assert_committed_document(&service, $name).await;
        }

        #[tokio::test]
        async fn schemathesis_finds_no_fault_from_the_document() {
            let service = $spawn.await;
            $crate::openapi::assert_schemathesis_finds_nothing(&service).await;
        }
    };
}

/// The user the fuzzer's user tokens act for.
fn fuzz_user() -> Identity {
    Identity {
        user_id: wire::UserId::from_bytes(*b"schemathesis"),
        display_name: "Fuzz".into(),
        email: "fuzz@example.com".into(),
    }
}

/// Runs Schemathesis (`SCHEMATHESIS`, which `scripts/test.sh` installs) against the running
/// `service` from its own `/openapi.json`, with a token for each signed-identity scheme, and
/// fails with its report when it finds anything.
pub async fn assert_schemathesis_finds_nothing(service: &TestService) {
    let user = &fuzz_user();
    let command = std::env::var("SCHEMATHESIS")
        .unwrap_or_else(|_| panic!("SCHEMATHESIS is not set (scripts/test.sh installs it)"));
    // Minted to outlast the run (a token is good for a minute from `now`).
    let now = SystemTime::now() + Duration::from_secs(15 * 60);
    let key = crate::identity_key();
    // Schemathesis keeps a cache of past failures where it runs, and replays them; each run
    // starts from none, in a directory of its own.
    let workdir = std::env::temp_dir().join(crate::unique_name("schemathesis"));
    std::fs::create_dir_all(&workdir).expect("a directory for schemathesis");
    let started = Instant::now();
    let output = tokio::process::Command::new(&command)
        .current_dir(&workdir)
        .arg("--config-file")
        .arg(crate::workspace_root().join("services/testkit/schemathesis.toml"))
        .arg("run")
        .arg(format!("{}/openapi.json", service.base_url))
        .args(["--checks", CHECKS])
        .args(["--max-examples", &EXAMPLES_PER_OPERATION.to_string()])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--seed", "20261204"])
        // One worker: two threads once crashed inside Schemathesis 4.32.5 (a KeyError in its
        // coverage phase), and one is fast enough here.
        .args(["--workers", "1"])
        .args(["--generation-database", "none"])
        .args(["--request-timeout", "10"])
        .arg("--no-color")
        .env("SIGNED_USER_TOKEN", key.sign(user, now))
        .env(
            "SIGNED_GATEWAY_TOKEN",
            key.sign_as(Caller::Gateway, None, Some("192.0.2.77"), now),
        )
        .env(
            "SIGNED_TRANSACTION_TOKEN",
            key.sign_as(Caller::Transaction, Some(user), None, now),
        )
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .unwrap_or_else(|err| panic!("run {command}: {err}"));
    let _ = std::fs::remove_dir_all(&workdir);
    let report = String::from_utf8_lossy(&output.stdout);
    eprintln!(
        "schemathesis on {} took {:.1} s:\n{report}",
        service.base_url,
        started.elapsed().as_secs_f64()
    );
    assert!(
        output.status.success(),
        "Schemathesis found faults ({}):\n{report}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}
