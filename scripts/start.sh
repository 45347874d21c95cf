#!/usr/bin/env bash
# Starts the whole marketplace on this machine: the local servers (installed when missing),
# every service and the gateway (release builds), then prints the address to open.
#   scripts/start.sh          start (or restart) everything
#   scripts/start.sh fresh    the same from empty stores: the MongoDB-wire server's data and the
#                             mail inbox are deleted first (benchmarks start from fresh data)
#   scripts/start.sh stop     stop the services and the gateway, then the local servers
source "$(dirname "$0")/lib/common.sh"
cd "$PROJECT_ROOT"

SERVICES=(user inventory transaction receipt notification)
GATEWAY_PORT=${GATEWAY_PORT:-3000}

stop_all() {
  stop_pid gateway
  for s in "${SERVICES[@]}"; do stop_pid "$s-service"; done
}

# Any other word is a mistake (e.g. "status"): refuse it rather than start everything.
case "${1:-}" in
  "" | fresh | stop) ;;
  *) die "unknown command '$1'; use: scripts/start.sh [fresh|stop] (servers: scripts/infra.sh status)" ;;
esac

if [ "${1:-}" = stop ]; then
  stop_all
  scripts/infra.sh down
  exit 0
fi

if [ "${1:-}" = fresh ]; then
  stop_all
  scripts/infra.sh down mongo smtp
  rm -rf "$DATA_DIR/mongo-java-server" "$DATA_DIR/ferretdb" "$DATA_DIR/mailpit"
fi

scripts/infra.sh up
eval "$(scripts/infra.sh env)"
# The services' shared signing secret: from the environment, or made once for this checkout.
if [ -z "${INTERNAL_AUTH_SECRET:-}" ]; then
  secret_file="$LOCAL_DIR/internal-auth-secret"
  [ -s "$secret_file" ] || (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$secret_file")
  INTERNAL_AUTH_SECRET=$(cat "$secret_file")
fi
export INTERNAL_AUTH_SECRET
# Live sockets are accepted from the address printed below (and its localhost spelling).
export PUBLIC_URL=${PUBLIC_URL:-http://127.0.0.1:$GATEWAY_PORT}
export ALLOWED_ORIGINS=${ALLOWED_ORIGINS:-$PUBLIC_URL,http://localhost:$GATEWAY_PORT}
scripts/build-site.sh
say "building the services and the gateway (release)"
cargo build --locked -q --release --bins
stop_all

bin="${CARGO_TARGET_DIR:-$PROJECT_ROOT/target}/release"
start() { # NAME BINARY
  nohup "$bin/$2" >"$LOG_DIR/$1.log" 2>&1 &
  echo $! >"$RUN_DIR/$1.pid"
}
for s in "${SERVICES[@]}"; do start "$s-service" "$s-service"; done
SITE_ROOT="${CARGO_TARGET_DIR:-$PROJECT_ROOT/target}/site" PORT=$GATEWAY_PORT start gateway marketplace-web

wait_ready() { # NAME URL
  local i
  for ((i = 0; i < 300; i++)); do
    curl -fsS -o /dev/null "$2/readyz" 2>/dev/null && return 0
    pid_alive "$1" || die "$1 exited; see $LOG_DIR/$1.log"
    sleep 0.1
  done
  die "$1 is not ready after 30 s; see $LOG_DIR/$1.log"
}
port=8081
for s in "${SERVICES[@]}"; do wait_ready "$s-service" "http://127.0.0.1:$port"; port=$((port + 1)); done
wait_ready gateway "http://127.0.0.1:$GATEWAY_PORT"
"$bin/seed-demo"

cat <<MSG

  The marketplace is running:  http://127.0.0.1:$GATEWAY_PORT
  Mail inbox (receipts):       ${MAIL_API_URL:-http://127.0.0.1:8025}
  Logs:                        $LOG_DIR
  Stop everything:             scripts/start.sh stop

MSG
