#!/usr/bin/env bash
# The whole test suite, against real servers and a real browser. `.ci/run` runs exactly this.
# Installs what is missing (servers, toolchain, Chromium), starts the local servers that are
# not running yet and stops those again at the end, builds the site, checks formatting and
# lints, and runs every test. (No release build of the binaries here: it would compile the whole
# workspace a second time, about 24 of a cold run's minutes, for code clippy and the tests have
# already compiled; `scripts/start.sh` and the Dockerfile make it.) Arguments go to `cargo test`, e.g. `scripts/test.sh -p notification-service`,
# or for one module of a crate's single test binary (`tests/api/`):
# `scripts/test.sh -p user-service --test api accounts::`.
source "$(dirname "$0")/lib/common.sh"
cd "$PROJECT_ROOT"

# Stop at the end only the servers that this run had to start.
already_up=$(scripts/infra.sh status 2>/dev/null | awk '$2 == "listening" {print $1}' || true)
cleanup() {
  local started=()
  for name in redis redis-cache kafka mongo smtp; do
    grep -qx "$name" <<<"$already_up" || started+=("$name")
  done
  [ ${#started[@]} -gt 0 ] && scripts/infra.sh down "${started[@]}" >/dev/null 2>&1 || true
}
trap cleanup EXIT

apt_install chromium chromium-driver
# The accessibility audit the browser tests run in every page.
AXE_CORE_JS=$(scripts/axe-core.sh)
export AXE_CORE_JS
# The OpenAPI fuzzer each service's tests run against it.
SCHEMATHESIS=$(scripts/schemathesis.sh)
export SCHEMATHESIS
scripts/infra.sh up
eval "$(scripts/infra.sh env)"
scripts/build-site.sh

say "cargo fmt --check"
cargo fmt --all -- --check
say "cargo clippy"
cargo clippy --locked -q --all-targets -- -D warnings
cargo clippy --locked -q -p frontend --target wasm32-unknown-unknown -- -D warnings

say "cargo test"
cargo test --locked "$@"

# The crash suite's short version (bench/src/crash.rs): a few processes killed with SIGKILL
# and one link cut while buyers stream purchases, on the debug builds the tests just made.
# It kills and restarts the local servers, so it runs alone, after every other test.
if [ $# -eq 0 ]; then
  say "crash suite (short)"
  cargo build --locked -q -p bench --bin crash-suite
  INTERNAL_AUTH_SECRET=${INTERNAL_AUTH_SECRET:-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')} \
    target/debug/crash-suite 8 target/debug \
    "nothing,gateway (,transaction (,receipt (,redis (,mongo (,transaction → mongo"
fi
