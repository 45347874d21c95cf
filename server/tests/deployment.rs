//! The container set-up, checked without a Docker engine: `docker-compose.yml` loads as
//! `docker compose config` would load it (scripts/compose-config.sh), it builds only
//! binaries this workspace has, every variable a service reads is set for it, and the
//! services that scale publish no fixed host ports.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `.env.example` with the required secret filled in, as a newcomer's `.env` would be.
fn env_file(secret: &str) -> PathBuf {
    let contents = read(".env.example").replace(
        "INTERNAL_AUTH_SECRET=\n",
        &format!("INTERNAL_AUTH_SECRET={secret}\n"),
    );
    let path = std::env::temp_dir().join(testkit::unique_name("compose-env"));
    std::fs::write(&path, contents).expect("write the env file");
    path
}

/// (succeeded, stdout, stderr) of loading the compose file with `env`.
fn compose_config(env: &Path) -> (bool, String, String) {
    let output = Command::new(root().join("scripts/compose-config.sh"))
        .arg(env)
        .output()
        .expect("run scripts/compose-config.sh");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn project() -> Value {
    let (ok, stdout, stderr) = compose_config(&env_file("0123456789abcdef0123456789abcdef"));
    assert!(ok, "docker-compose.yml does not load: {stderr}");
    serde_json::from_str(&stdout).expect("the resolved project is JSON")
}

/// The workspace's binaries, from `cargo metadata`.
fn workspace_binaries() -> BTreeSet<String> {
    let output = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(root())
        .output()
        .expect("cargo metadata");
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("metadata JSON");
    metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .filter(|t| {
            t["kind"]
                .as_array()
                .is_some_and(|k| k.contains(&"bin".into()))
        })
        .filter_map(|t| t["name"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn the_compose_file_loads_and_refuses_to_start_without_the_secret() {
    let services = project()["services"].clone();
    for name in [
        "mongo",
        "mongo-init",
        "redis",
        "kafka",
        "mailpit",
        "user",
        "inventory",
        "transaction",
        "receipt",
        "notification",
        "gateway",
        "seed",
    ] {
        assert!(services.get(name).is_some(), "no {name} service");
    }
    let (ok, _, stderr) = compose_config(&env_file(""));
    assert!(!ok, "a stack without INTERNAL_AUTH_SECRET must not load");
    assert!(stderr.contains("INTERNAL_AUTH_SECRET"), "{stderr}");
}

#[test]
fn every_image_is_built_from_binaries_the_workspace_has() {
    let binaries = workspace_binaries();
    let services = project()["services"].clone();
    let services = services.as_object().expect("services");
    let mut built = BTreeSet::new();
    for (name, service) in services {
        if let Some(binary) = service["build"]["args"]["BIN"].as_str() {
            assert!(
                binaries.contains(binary),
                "{name} builds {binary}, which the workspace lacks"
            );
            assert_eq!(service["build"]["target"], "service", "{name}");
            built.insert(binary.to_owned());
        }
    }
    // Every service binary has its container, and the gateway image has its two.
    for binary in binaries.iter().filter(|b| b.ends_with("-service")) {
        assert!(
            built.contains(binary),
            "{binary} has no service in docker-compose.yml"
        );
    }
    let dockerfile = read("Dockerfile");
    for binary in ["marketplace-web", "seed-demo"] {
        assert!(binaries.contains(binary), "{binary}");
        assert!(
            dockerfile.contains(&format!("target/release/{binary}")),
            "{binary}"
        );
    }
    // Every target compose builds is a stage of the Dockerfile.
    let stages: BTreeSet<&str> = dockerfile
        .lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["FROM", _, as_word, stage] if as_word.eq_ignore_ascii_case("as") => Some(*stage),
                _ => None,
            }
        })
        .collect();
    for (name, service) in services {
        if let Some(target) = service["build"]["target"].as_str() {
            assert!(
                stages.contains(target),
                "{name} builds stage {target}, not in the Dockerfile ({stages:?})"
            );
        }
    }
    assert_eq!(services["gateway"]["build"]["target"], "gateway");
    assert_eq!(services["seed"]["build"]["target"], "gateway");
    assert!(
        dockerfile.contains("USER marketplace"),
        "the images run as a non-root user"
    );
}

/// Variables read through `common` accessors, by the accessor's name in a service's code.
const COMMON_ACCESSORS: &[(&str, &[&str])] = &[
    ("listen_addr(", &["HOST", "PORT"]),
    ("redis::url_from_env(", &["REDIS_URL"]),
    (
        "MongoSettings::from_env(",
        &["MONGODB_URI", "MONGODB_DATABASE"],
    ),
    ("kafka::brokers_from_env(", &["KAFKA_BROKERS"]),
    ("SmtpSettings::from_env(", &["SMTP_URL"]),
    ("IdentityKey::from_env(", &["INTERNAL_AUTH_SECRET"]),
    (
        "telemetry::init(",
        &["LOG_FORMAT", "RUST_LOG", "OTEL_EXPORTER_OTLP_ENDPOINT"],
    ),
];

/// The variables a piece of code reads: literal names passed to the env helpers, and those
/// behind the `common` accessors it calls.
fn variables_read(code: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for helper in ["env_or(", "env_parse(", "env::var(", "secs("] {
        for (at, _) in code.match_indices(helper) {
            let rest = code[at + helper.len()..].trim_start();
            if let Some(literal) = rest.strip_prefix('"')
                && let Some(end) = literal.find('"')
            {
                let name = &literal[..end];
                if !name.is_empty() && name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
                    names.insert(name.to_owned());
                }
            }
        }
    }
    for (accessor, variables) in COMMON_ACCESSORS {
        if code.contains(accessor) {
            names.extend(variables.iter().map(|v| (*v).to_owned()));
        }
    }
    names
}

fn rust_sources(dir: &Path, skip: &[&str]) -> String {
    let mut code = String::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("entry").path();
        if skip.iter().any(|s| path.ends_with(s)) {
            continue;
        }
        if path.is_dir() {
            code.push_str(&rust_sources(&path, skip));
        } else if path.extension().is_some_and(|e| e == "rs") {
            code.push_str(&std::fs::read_to_string(&path).expect("read source"));
        }
    }
    code
}

#[test]
fn every_variable_a_service_reads_is_set_for_it_in_compose() {
    let services = project()["services"].clone();
    let code_of: BTreeMap<&str, String> = [
        ("user", rust_sources(&root().join("services/user/src"), &[])),
        (
            "inventory",
            rust_sources(&root().join("services/inventory/src"), &[]),
        ),
        (
            "transaction",
            rust_sources(&root().join("services/transaction/src"), &[]),
        ),
        (
            "receipt",
            rust_sources(&root().join("services/receipt/src"), &[]),
        ),
        (
            "notification",
            rust_sources(&root().join("services/notification/src"), &[]),
        ),
        (
            "gateway",
            rust_sources(&root().join("server/src"), &["bin"]),
        ),
        ("seed", rust_sources(&root().join("server/src/bin"), &[])),
    ]
    .into_iter()
    .collect();
    for (service, code) in &code_of {
        let read = variables_read(code);
        assert!(
            read.len() >= 3,
            "{service}: found too few variables to be believable: {read:?}"
        );
        let set: BTreeSet<String> = services[service]["environment"]
            .as_object()
            .unwrap_or_else(|| panic!("{service} has no environment"))
            .keys()
            .cloned()
            .collect();
        let missing: Vec<&String> = read.difference(&set).collect();
        assert!(
            missing.is_empty(),
            "{service} reads {missing:?}, which compose does not set"
        );
    }
}

#[test]
fn services_start_in_order_and_only_the_gateway_and_the_inbox_take_host_ports() {
    let services = project()["services"].clone();
    let services = services.as_object().expect("services");
    for (name, service) in services {
        let published = service["ports"].as_array().is_some_and(|p| !p.is_empty());
        assert_eq!(
            published,
            name == "gateway" || name == "mailpit",
            "{name}: scaled services must not claim fixed host ports"
        );
        // Long-running marketplace containers (not one-off jobs such as the seed).
        if service["build"].is_object() && service["restart"] != "no" {
            assert!(
                service["healthcheck"]["test"].is_array(),
                "{name} has no health check"
            );
        }
    }
    for dependency in [
        "user",
        "inventory",
        "transaction",
        "receipt",
        "notification",
    ] {
        assert_eq!(
            services["gateway"]["depends_on"][dependency]["condition"], "service_healthy",
            "the gateway waits for {dependency}"
        );
    }
    assert_eq!(
        services["user"]["depends_on"]["mongo-init"]["condition"], "service_completed_successfully",
        "services wait until the replica set is initiated"
    );
}
