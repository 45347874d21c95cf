#!/usr/bin/env bash
# Measures each MongoDB-wire candidate against what the services need: starts a private
# instance of each on a free port and runs services/common/tests/api/mongo_wire_compat.rs against
# it. The results are recorded in docs/mongo-wire-compat.md.
source "$(dirname "$0")/lib/common.sh"
cd "$PROJECT_ROOT"
MONGO_WIRE_SERVER=ferretdb scripts/infra.sh up mongo >/dev/null 2>&1 || true  # installs FerretDB
eval "$(scripts/infra.sh env)"
[ -n "${MONGO_JAVA_SERVER_CP:-}" ] || die "mongo-java-server is not installed"
[ -x "${FERRETDB_BIN:-}" ] || die "FerretDB is not installed (MONGO_WIRE_SERVER=ferretdb scripts/infra.sh up mongo)"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cargo build -q --locked -p marketplace-common --features mongo --tests

run_against() { # NAME COMMAND...
  local name=$1 port; shift
  port=$(free_port)
  local dir; dir=$(mktemp -d)
  eval "$* &"; local pid=$!
  wait_for_port 127.0.0.1 "$port" 30 "$name"
  say "$name"
  MONGODB_URI="mongodb://127.0.0.1:$port" cargo test --locked -p marketplace-common --features mongo \
    --test api mongo_wire_compat:: 2>&1 | grep -E '^test |test result' || true
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
}
run_against "mongo-java-server (memory)" \
  '"$JAVA_BIN" -Xmx256m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$MONGO_JAVA_SERVER_CP" Launcher --port $port >/dev/null 2>&1'
run_against "mongo-java-server (h2)" \
  '"$JAVA_BIN" -Xmx256m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$MONGO_JAVA_SERVER_CP" Launcher --port $port --backend h2 --h2-file $dir/db.mv >/dev/null 2>&1'
run_against "FerretDB (SQLite)" \
  '"$FERRETDB_BIN" --handler=sqlite --sqlite-url=file:$dir/ --listen-addr=127.0.0.1:$port --state-dir=$dir --debug-addr=- --telemetry=disable --log-level=error >/dev/null 2>&1'
