//! The container set-up, checked without a Docker engine: `docker-compose.yml` loads as
//! `docker compose config` would load it (scripts/compose-config.sh), it builds only
//! binaries this workspace has, every variable a service reads is set for it, the services
//! that scale publish no fixed host ports, and its defaults are safe to deploy: demo data and
//! the mail catcher only in the `demo` profile, host ports on loopback, a Redis for state that
//! never evicts beside one for the cache that does, the identity secret only where it is used,
//! and the gateway's metrics off its public port. The Kubernetes overlays (deploy/k8s/) are
//! checked the same way, offline: built with the kustomize API, decoded strictly into the
//! k8s.io/api types (scripts/k8s-render.sh), and every variable a service reads set for it.

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

const SECRET: &str = "0123456789abcdef0123456789abcdef";

/// `.env.example` with the required secret filled in, as a newcomer's `.env` would be.
fn env_file(secret: &str) -> PathBuf {
    env_file_with(&[("INTERNAL_AUTH_SECRET", secret)])
}

/// `.env.example` with each `NAME=value` of `settings` replacing the example's line (or added).
fn env_file_with(settings: &[(&str, &str)]) -> PathBuf {
    let mut lines: Vec<String> = read(".env.example").lines().map(str::to_owned).collect();
    for (name, value) in settings {
        let line = format!("{name}={value}");
        let example = lines.iter_mut().find(|l| {
            l.strip_prefix(*name)
                .is_some_and(|rest| rest.starts_with('='))
        });
        match example {
            Some(example) => *example = line,
            None => lines.push(line),
        }
    }
    let path = std::env::temp_dir().join(testkit::unique_name("compose-env"));
    std::fs::write(&path, lines.join("\n") + "\n").expect("write the env file");
    path
}

/// (succeeded, stdout, stderr) of loading the compose file with `env` and the given profile
/// active (COMPOSE_PROFILES, which both `docker compose` and tools/compose-check read), or
/// none.
fn compose_config(env: &Path, profile: Option<&str>) -> (bool, String, String) {
    let mut command = Command::new(root().join("scripts/compose-config.sh"));
    command.arg(env);
    match profile {
        Some(profile) => command.env("COMPOSE_PROFILES", profile),
        None => command.env_remove("COMPOSE_PROFILES"),
    };
    let output = command.output().expect("run scripts/compose-config.sh");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn load(env: &Path, profile: Option<&str>) -> Value {
    let (ok, stdout, stderr) = compose_config(env, profile);
    assert!(
        ok,
        "docker-compose.yml does not load ({profile:?}): {stderr}"
    );
    serde_json::from_str(&stdout).expect("the resolved project is JSON")
}

/// The project as `docker compose up` runs it: no profile.
fn project() -> Value {
    load(&env_file(SECRET), None)
}

/// The project as `docker compose --profile demo up` runs it: every service.
fn demo_project() -> Value {
    load(&env_file(SECRET), Some("demo"))
}

const DEMO_ONLY: &[&str] = &["mailpit", "seed"];

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
        "redis-cache",
        "kafka",
        "user",
        "inventory",
        "transaction",
        "receipt",
        "notification",
        "gateway",
    ] {
        assert!(services.get(name).is_some(), "no {name} service");
    }
    for profile in [None, Some("demo")] {
        let (ok, _, stderr) = compose_config(&env_file(""), profile);
        assert!(
            !ok,
            "a stack without INTERNAL_AUTH_SECRET must not load ({profile:?})"
        );
        assert!(stderr.contains("INTERNAL_AUTH_SECRET"), "{stderr}");
    }
}

#[test]
fn the_demo_seed_and_mailpit_run_only_in_the_demo_profile() {
    let services = project()["services"].clone();
    let services = services.as_object().expect("services");
    let demo = demo_project()["services"].clone();
    let demo = demo.as_object().expect("services");
    for name in DEMO_ONLY {
        assert!(
            !services.contains_key(*name),
            "{name} runs without --profile demo"
        );
        assert!(demo.contains_key(*name), "--profile demo lacks {name}");
        assert_eq!(
            demo[*name]["profiles"],
            serde_json::json!(["demo"]),
            "{name}"
        );
    }
    // The demo profile only adds; everything else runs either way.
    let default_names: BTreeSet<&String> = services.keys().collect();
    let demo_names: BTreeSet<&String> = demo
        .keys()
        .filter(|n| !DEMO_ONLY.contains(&n.as_str()))
        .collect();
    assert_eq!(default_names, demo_names);
    // Nothing outside the profile needs what only the profile runs.
    for (name, service) in services {
        for (dependency, how) in service["depends_on"].as_object().into_iter().flatten() {
            assert!(
                services.contains_key(dependency) || how["required"] == false,
                "{name} requires {dependency}, which runs only with --profile demo"
            );
        }
    }
    // Receipts go to SMTP_URL from .env; unset, to the demo profile's Mailpit.
    assert_eq!(
        services["receipt"]["environment"]["SMTP_URL"],
        "smtp://mailpit:1025"
    );
    let real = "smtps://shop%40example.com:app-password@smtp.example.com:465";
    let configured = load(
        &env_file_with(&[("INTERNAL_AUTH_SECRET", SECRET), ("SMTP_URL", real)]),
        None,
    );
    assert_eq!(
        configured["services"]["receipt"]["environment"]["SMTP_URL"],
        real
    );
}

#[test]
fn every_image_is_built_from_binaries_the_workspace_has() {
    let binaries = workspace_binaries();
    let services = demo_project()["services"].clone();
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

/// The code of each deployed program, by its name in docker-compose.yml (and in
/// deploy/k8s/): the five services, the gateway and the demo seed.
fn code_of_programs() -> BTreeMap<&'static str, String> {
    [
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
    .collect()
}

#[test]
fn every_variable_a_service_reads_is_set_for_it_in_compose() {
    let services = demo_project()["services"].clone();
    for (service, code) in &code_of_programs() {
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
    // Settings of the deployment defaults, whichever way the code reads them.
    for (service, variable) in [
        ("inventory", "CACHE_REDIS_URL"),
        ("gateway", "METRICS_LISTEN"),
        ("gateway", "TRUSTED_PROXIES"),
        ("user", "REGISTRATIONS_PER_ADDRESS_PER_HOUR"),
    ] {
        assert!(
            services[service]["environment"].get(variable).is_some(),
            "compose does not set {variable} for {service}"
        );
    }
    // No proxy is trusted unless .env names one.
    assert_eq!(services["gateway"]["environment"]["TRUSTED_PROXIES"], "");
}

#[test]
fn services_start_in_order_and_only_the_gateway_and_the_inbox_take_host_ports() {
    let services = demo_project()["services"].clone();
    let services = services.as_object().expect("services");
    for (name, service) in services {
        let published = service["ports"].as_array().is_some_and(|p| !p.is_empty());
        assert_eq!(
            published,
            name == "gateway" || name == "mailpit",
            "{name}: scaled services must not claim fixed host ports"
        );
        // Published on loopback only, unless .env says otherwise.
        for port in service["ports"].as_array().into_iter().flatten() {
            assert_eq!(
                port["host_ip"], "127.0.0.1",
                "{name} publishes {port} beyond this machine"
            );
        }
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

#[test]
fn the_gateway_binds_to_loopback_unless_gateway_bind_says_otherwise() {
    let exposed = load(
        &env_file_with(&[
            ("INTERNAL_AUTH_SECRET", SECRET),
            ("GATEWAY_BIND", "0.0.0.0"),
        ]),
        None,
    );
    assert_eq!(
        exposed["services"]["gateway"]["ports"][0]["host_ip"],
        "0.0.0.0"
    );
    assert_eq!(exposed["services"]["gateway"]["ports"][0]["target"], 3000);
}

/// The value after `flag` in a service's command, e.g. `--maxmemory-policy`.
fn command_option<'a>(service: &'a Value, flag: &str) -> Option<&'a str> {
    let command = service["command"].as_array()?;
    let at = command.iter().position(|word| word == flag)?;
    command.get(at + 1)?.as_str()
}

#[test]
fn state_and_cache_live_in_separate_redis_instances_and_only_the_cache_evicts() {
    let services = demo_project()["services"].clone();
    let services = services.as_object().expect("services");
    let (state, cache) = (&services["redis"], &services["redis-cache"]);
    // Sessions, presence and rate limits: a full Redis refuses writes instead of evicting them.
    assert_eq!(
        command_option(state, "--maxmemory-policy"),
        Some("noeviction")
    );
    assert!(
        command_option(state, "--maxmemory").is_some(),
        "redis: no --maxmemory"
    );
    // Cache entries have TTLs and go first; the generation counters have none and stay.
    let policy = command_option(cache, "--maxmemory-policy").unwrap_or_default();
    assert!(
        policy.starts_with("volatile-"),
        "redis-cache evicts with {policy:?}"
    );
    assert!(
        command_option(cache, "--maxmemory").is_some(),
        "redis-cache: no --maxmemory"
    );
    for (name, redis) in [("redis", state), ("redis-cache", cache)] {
        assert_eq!(
            command_option(redis, "--save"),
            Some(""),
            "{name} writes snapshots"
        );
        assert!(
            redis["healthcheck"]["test"].is_array(),
            "{name} has no health check"
        );
    }
    // Sessions and carts survive a restart: the state keeps an append-only file, written
    // every second, on a volume of its own; the cache is memory only.
    assert_eq!(command_option(state, "--appendonly"), Some("yes"));
    assert_eq!(command_option(state, "--appendfsync"), Some("everysec"));
    let dir = command_option(state, "--dir").expect("redis: --dir");
    let volumes: Vec<&str> = state["volumes"]
        .as_array()
        .expect("redis: a volume")
        .iter()
        .filter_map(|volume| volume["target"].as_str().or_else(|| volume.as_str()))
        .collect();
    assert!(
        volumes.iter().any(|volume| volume.ends_with(dir)),
        "redis keeps its file in {dir}, which is no volume: {volumes:?}"
    );
    assert_eq!(command_option(cache, "--appendonly"), Some("no"));
    // Only the inventory service uses the cache; every service keeps its state in `redis`.
    let inventory = &services["inventory"];
    assert_eq!(
        inventory["environment"]["CACHE_REDIS_URL"],
        "redis://redis-cache:6379"
    );
    assert_eq!(
        inventory["depends_on"]["redis-cache"]["condition"],
        "service_healthy"
    );
    for (name, service) in services {
        if let Some(url) = service["environment"]["REDIS_URL"].as_str() {
            assert_eq!(
                url, "redis://redis:6379",
                "{name} keeps its state elsewhere"
            );
        }
        if name != "inventory" {
            assert!(
                service["environment"].get("CACHE_REDIS_URL").is_none(),
                "{name} gets the cache"
            );
        }
    }
}

#[test]
fn only_the_services_that_sign_or_verify_identities_get_the_secret() {
    let services = demo_project()["services"].clone();
    let services = services.as_object().expect("services");
    let holders = [
        "gateway",
        "user",
        "inventory",
        "transaction",
        "receipt",
        "notification",
        "seed",
    ];
    for (name, service) in services {
        let secret = &service["environment"]["INTERNAL_AUTH_SECRET"];
        if holders.contains(&name.as_str()) {
            assert_eq!(secret, SECRET, "{name} signs or verifies identities");
        } else {
            assert!(
                secret.is_null(),
                "{name} must not hold INTERNAL_AUTH_SECRET"
            );
        }
    }
    assert!(
        services.contains_key("mailpit"),
        "and some services hold none"
    );
}

#[test]
fn the_gateway_serves_metrics_on_a_listener_of_its_own_that_is_not_published() {
    let services = demo_project()["services"].clone();
    let services = services.as_object().expect("services");
    let gateway = &services["gateway"];
    let address: std::net::SocketAddr = gateway["environment"]["METRICS_LISTEN"]
        .as_str()
        .expect("the gateway has METRICS_LISTEN")
        .parse()
        .expect("METRICS_LISTEN is an address");
    let port = address.port().to_string();
    assert_ne!(
        gateway["environment"]["PORT"], port,
        "metrics share the public port"
    );
    for (name, service) in services {
        for published in service["ports"].as_array().into_iter().flatten() {
            assert_ne!(
                published["target"].to_string(),
                port,
                "{name} publishes {published}"
            );
            assert_ne!(
                published["published"].as_str(),
                Some(port.as_str()),
                "{name} publishes {published}"
            );
        }
    }
}

/// The objects of a Kubernetes overlay (`dev`, `prod` or a folder), as
/// `scripts/k8s-render.sh` renders them: built with the kustomize API, then each decoded
/// strictly into its k8s.io/api type. (succeeded, objects, stderr)
fn k8s_render(overlay: &str) -> (bool, Vec<Value>, String) {
    let output = Command::new("bash")
        .arg(root().join("scripts/k8s-render.sh"))
        .arg(overlay)
        .output()
        .expect("run scripts/k8s-render.sh");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let objects = if output.status.success() {
        serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|err| panic!("{overlay}: the render is not a JSON array: {err}"))
    } else {
        Vec::new()
    };
    (output.status.success(), objects, stderr)
}

/// The objects of `kind` in `objects`, by name.
fn of_kind<'a>(objects: &'a [Value], kind: &str) -> BTreeMap<String, &'a Value> {
    objects
        .iter()
        .filter(|o| o["kind"] == kind)
        .map(|o| {
            (
                o["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                o,
            )
        })
        .collect()
}

#[test]
fn both_kubernetes_overlays_build_and_run_every_service_as_the_design_says() {
    let code = code_of_programs();
    for overlay in ["dev", "prod"] {
        let (ok, objects, stderr) = k8s_render(overlay);
        assert!(
            ok,
            "the {overlay} overlay does not build or decode: {stderr}"
        );
        assert!(
            of_kind(&objects, "Secret").is_empty(),
            "{overlay}: a Secret is committed"
        );
        let deployments = of_kind(&objects, "Deployment");
        let services = of_kind(&objects, "Service");
        let autoscalers = of_kind(&objects, "HorizontalPodAutoscaler");
        let budgets = of_kind(&objects, "PodDisruptionBudget");
        for (program, code) in code.iter().filter(|(name, _)| **name != "seed") {
            let context = format!("{overlay}/{program}");
            let deployment = deployments
                .get(*program)
                .unwrap_or_else(|| panic!("{context}: no Deployment"));
            assert!(services.contains_key(*program), "{context}: no Service");
            assert!(
                budgets.contains_key(*program),
                "{context}: no PodDisruptionBudget"
            );
            assert!(
                autoscalers.contains_key(*program),
                "{context}: no HorizontalPodAutoscaler"
            );
            let pod = &deployment["spec"]["template"]["spec"];
            assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{context}");
            let container = &pod["containers"][0];
            assert_eq!(
                container["securityContext"]["readOnlyRootFilesystem"], true,
                "{context}"
            );
            assert_eq!(
                container["securityContext"]["allowPrivilegeEscalation"], false,
                "{context}"
            );
            assert_eq!(
                container["readinessProbe"]["httpGet"]["path"], "/readyz",
                "{context}"
            );
            assert_eq!(
                container["livenessProbe"]["httpGet"]["path"], "/healthz",
                "{context}"
            );
            for bound in ["requests", "limits"] {
                for resource in ["cpu", "memory"] {
                    assert!(
                        container["resources"][bound][resource].is_string(),
                        "{context}: no {bound}.{resource}"
                    );
                }
            }
            // Every variable the program reads is set, by name, and a secret never by value.
            let env: BTreeMap<String, &Value> = container["env"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| (v["name"].as_str().unwrap_or_default().to_owned(), v))
                .collect();
            let missing: Vec<String> = variables_read(code)
                .into_iter()
                .filter(|name| !env.contains_key(name))
                .collect();
            assert!(
                missing.is_empty(),
                "{context} reads {missing:?}, which the manifests do not set"
            );
            if let Some(secret) = env.get("INTERNAL_AUTH_SECRET") {
                assert!(
                    secret["valueFrom"]["secretKeyRef"].is_object(),
                    "{context}: INTERNAL_AUTH_SECRET must come from a Secret"
                );
            }
        }
        // The one way in is the gateway, and it keeps /live sockets open.
        let ingresses = of_kind(&objects, "Ingress");
        let ingress = ingresses.values().next().expect("an Ingress");
        let backends: BTreeSet<&str> = ingress["spec"]["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|rule| rule["http"]["paths"].as_array().into_iter().flatten())
            .filter_map(|path| path["backend"]["service"]["name"].as_str())
            .collect();
        assert_eq!(backends, BTreeSet::from(["gateway"]), "{overlay}");
        let annotations = &ingress["metadata"]["annotations"];
        assert_eq!(
            annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"], "3600",
            "{overlay}: /live sockets would be cut after a minute"
        );
    }
}

#[test]
fn a_misspelt_field_in_a_manifest_is_refused_by_the_offline_check() {
    let scratch = std::env::temp_dir().join(testkit::unique_name("k8s-overlay"));
    for folder in ["base", "overlays/dev"] {
        let from = root().join("deploy/k8s").join(folder);
        let to = scratch.join(folder);
        std::fs::create_dir_all(&to).expect("scratch folder");
        for entry in std::fs::read_dir(&from).expect("read the manifests") {
            let path = entry.expect("entry").path();
            std::fs::copy(&path, to.join(path.file_name().expect("a name"))).expect("copy");
        }
    }
    let receipt = scratch.join("base/receipt.yaml");
    let manifest = std::fs::read_to_string(&receipt).expect("read receipt.yaml");
    std::fs::write(
        &receipt,
        manifest.replacen(
            "  revisionHistoryLimit:",
            "  replica: 2\n  revisionHistoryLimit:",
            1,
        ),
    )
    .expect("write receipt.yaml");

    let (ok, _, stderr) = k8s_render(&scratch.join("overlays/dev").to_string_lossy());
    let _ = std::fs::remove_dir_all(&scratch);
    assert!(!ok, "a Deployment with `replica` was accepted");
    assert!(
        stderr.contains("Deployment receipt") && stderr.contains("spec.replica"),
        "the refusal names the object and the field: {stderr}"
    );
}
