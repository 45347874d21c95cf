#!/usr/bin/env bash
# Local servers for development, tests and CI, installed from the package registries this
# machine reaches (no Docker here): Redis (one for state, one for the cache), Apache Kafka
# (KRaft), a MongoDB-wire server and an SMTP catcher with a web inbox. See docs/infra.md.
#
#   scripts/infra.sh up [names…]     install what is missing, start what is not running, wait
#                                    until each answers (default: redis redis-cache kafka mongo smtp)
#   scripts/infra.sh down [names…]   stop only the servers this script started
#   scripts/infra.sh status          one line per server; exit 3 if one is not listening
#   scripts/infra.sh env             `export VAR=value` lines for a test harness to eval
#
# Ports: REDIS_PORT REDIS_CACHE_PORT KAFKA_PORT KAFKA_CONTROLLER_PORT MONGO_PORT SMTP_PORT MAIL_UI_PORT.
# MONGO_WIRE_SERVER=mongo-java-server|ferretdb picks the MongoDB-wire server.
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

HOST=127.0.0.1
REDIS_PORT=${REDIS_PORT:-6379}
REDIS_CACHE_PORT=${REDIS_CACHE_PORT:-6380}
KAFKA_PORT=${KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
MONGO_PORT=${MONGO_PORT:-27017}
SMTP_PORT=${SMTP_PORT:-1025}
MAIL_UI_PORT=${MAIL_UI_PORT:-8025}
MONGO_WIRE_SERVER=${MONGO_WIRE_SERVER:-mongo-java-server}
# memory: fast, empty after every restart; h2: kept in .local/data/mongo-java-server/db.mv
MONGO_JAVA_SERVER_BACKEND=${MONGO_JAVA_SERVER_BACKEND:-h2}
# The memory backend holds every document in this heap: raise it for long benchmark runs.
MONGO_JAVA_SERVER_HEAP=${MONGO_JAVA_SERVER_HEAP:-1g}
# The H2 backend's page cache, in MB (part of the heap above). H2's default, 16 MB, held about
# 5,000 purchases: beyond that every history page read its purchases from the file again and
# deserialised them (history-bench, 200,000 stored: history pages 2.3x slower than with 1,000,
# 1.26x with 256 MB).
MONGO_JAVA_SERVER_H2_CACHE_MB=${MONGO_JAVA_SERVER_H2_CACHE_MB:-256}
KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}

KAFKA_VERSION=4.4.0
# Any fixed 16-byte id works (base64 of "MarketplaceKafka"); fixed so a re-format is reproducible.
KAFKA_CLUSTER_ID=TWFya2V0cGxhY2VLYWZrYQ
FERRETDB_VERSION=v1.24.2
MAILPIT_VERSION=v1.33.1
# Mailpit keeps only the newest 500 by default; a purchase-bench run sends tens of thousands.
MAILPIT_MAX_MESSAGES=${MAILPIT_MAX_MESSAGES:-100000}
MONGO_JAVA_SERVER_VERSION=1.47.0

KAFKA_HOME="$MARKETPLACE_TOOLS/kafka-$KAFKA_VERSION"
KAFKA_LIBS_DIR="$KAFKA_HOME/libs"
MJS_HOME="$MARKETPLACE_TOOLS/mongo-java-server-$MONGO_JAVA_SERVER_VERSION"
MONGO_JAVA_SERVER_CP="$MJS_HOME/libs/*:$MJS_HOME/classes"
FERRETDB_BIN="$MARKETPLACE_TOOLS/bin/ferretdb"
MAILPIT_BIN="$MARKETPLACE_TOOLS/bin/mailpit"
JAVA_BIN=""
SUMMARY=()

# ---------------------------------------------------------------------------------------------
# Toolchains the installs need. Go and Node come with the machine image; Debian's Go is too old
# for FerretDB and Mailpit, so a missing Go is an error rather than an apt install.

java_major() { "$1" -version 2>&1 | sed -n '1s/^[^"]*"\(1\.\)\{0,1\}\([0-9]*\).*/\2/p'; }

find_java() {
  local j
  for j in ${JAVA_HOME:+"$JAVA_HOME/bin/java"} "$(command -v java || true)"; do
    [ -n "$j" ] && [ -x "$j" ] || continue
    # Kafka 4's broker and tools need Java 17 or newer.
    if [ "$(java_major "$j")" -ge 17 ] 2>/dev/null; then
      JAVA_BIN=$(readlink -f "$j")
      return 0
    fi
  done
  return 1
}

ensure_jdk() {
  # javac is needed for the mongo-java-server launcher; default-jdk-headless is 17 on Debian 12, 21 on 13.
  if ! find_java || [ ! -x "$(dirname "$JAVA_BIN")/javac" ]; then
    apt_install default-jdk-headless
    find_java || die "no Java 17+ found even after installing default-jdk-headless"
  fi
}

ensure_maven() { have mvn || apt_install maven; }
ensure_go() { have go || die "go is not installed (the machine image provides Go; Debian's is too old for FerretDB/Mailpit)"; }
ensure_node() { have npm || apt_install nodejs npm; }

# go_module_src MODULE VERSION: directory of the module's source in the Go module cache.
go_module_src() {
  local tmp dir
  tmp=$(mktemp -d)
  dir=$(cd "$tmp" && go mod download -json "$1@$2" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  rmdir "$tmp"
  [ -d "$dir" ] || die "could not download Go module $1@$2"
  printf '%s\n' "$dir"
}

# ---------------------------------------------------------------------------------------------
# Processes. A server is "ours" when its pid file names a live process whose working directory
# is the server's data dir (every server is started there), so a pid reused by an unrelated
# process after a reboot is never taken for ours and never killed.

ours() {
  local name=$1 f="$RUN_DIR/$1.pid" pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null &&
    [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$(readlink -f "$DATA_DIR/$name")" ]; then
    return 0
  fi
  rm -f "$f" "$RUN_DIR/$name.ports"
  return 1
}

our_pid() { cat "$RUN_DIR/$1.pid"; }
our_ports() { cat "$RUN_DIR/$1.ports" 2>/dev/null || echo unknown; }

# ours_on NAME PORT: ours, and started to listen on PORT.
ours_on() { ours "$1" && [[ ",$(our_ports "$1")," == *",$2,"* ]]; }

# check_ports NAME PORTS: stop with a hint when our running server was started on other ports.
check_ports() {
  [ "$(our_ports "$1")" = "$2" ] ||
    die "$1 (ours, pid $(our_pid "$1")) listens on $(our_ports "$1"), not $2; run 'scripts/infra.sh down' for it first"
}

# spawn NAME PORTS CMD…: start CMD in .local/data/NAME, detached from this shell's session so it
# outlives the script, with output appended to .local/log/NAME.log. nohup and setsid exec
# in place (a background child of a non-interactive shell is no group leader), so $! is the
# server itself and the pid file names it. Every other inherited descriptor is closed: the
# server would otherwise hold this script's lock (fd 9) or a caller's pipe open for its lifetime.
spawn() {
  local name=$1
  echo "$2" >"$RUN_DIR/$name.ports"
  shift 2
  mkdir -p "$DATA_DIR/$name"
  printf '\n=== %s: started by scripts/infra.sh\n' "$(date -Is)" >>"$LOG_DIR/$name.log"
  (
    cd "$DATA_DIR/$name" || exit 1
    for fd in /proc/self/fd/*; do
      fd=${fd##*/}
      [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null
    done
    exec nohup setsid "$@" >>"$LOG_DIR/$name.log" 2>&1 </dev/null
  ) &
  echo $! >"$RUN_DIR/$name.pid"
}

# await NAME PORT SECS: wait until PORT answers; fail at once if the server died meanwhile.
await() {
  local name=$1 port=$2 secs=$3 i
  for ((i = 0; i < secs * 10; i++)); do
    port_open "$HOST" "$port" && return 0
    if ! kill -0 "$(our_pid "$name")" 2>/dev/null; then
      rm -f "$RUN_DIR/$name.pid"
      tail -n 30 "$LOG_DIR/$name.log" >&2
      die "$name exited during start (log: $LOG_DIR/$name.log)"
    fi
    sleep 0.1
  done
  die "$name did not answer on $HOST:$port within ${secs}s (log: $LOG_DIR/$name.log)"
}

foreign() { say "$1: $HOST:$2 already answers, but not a process this script started; leaving it alone"; }

summary() { SUMMARY+=("$(printf '%-6s %-36s %s' "$1" "$2" "$3")"); }

origin() { if ours "$1"; then echo "pid $(our_pid "$1"), log ${LOG_DIR#"$PROJECT_ROOT"/}/$1.log"; else echo "not started by this script"; fi; }

# ---------------------------------------------------------------------------------------------
# Redis: Debian's redis-server, twice. `redis` holds state (sessions, carts, presence, rate
# limits, pub/sub), never evicts (full, it refuses writes) and keeps an append-only file in
# .local/data/redis, written every second (`appendfsync everysec`): a restart, SIGKILL included,
# loses at most the last second, not every session and cart (README, "What survives what").
# `redis-cache` holds the inventory service's cache-aside entries (all with TTLs), in memory
# only, and evicts them, volatile-lru, so never the cache's generation counters (no TTL).

install_redis() {
  dpkg -s redis-server >/dev/null 2>&1 && return 0
  local t0=$SECONDS
  apt_install redis-server
  # Where services may start on install (no policy-rc.d), Debian starts its own redis on 6379;
  # that one would then look like a foreign server, so stop it right after our install.
  if have service && service redis-server status >/dev/null 2>&1; then
    service redis-server stop >/dev/null 2>&1 || true
  fi
  say "redis-server installed in $((SECONDS - t0))s"
}

redis_check() { [ "$(redis-cli -h "$HOST" -p "$1" ping 2>/dev/null)" = PONG ]; }

# redis_loaded NAME PORT SECS: wait until Redis answers PONG. While it loads its append-only
# file it answers `LOADING` instead (a million keys take seconds).
redis_loaded() {
  local name=$1 port=$2 secs=$3 i
  for ((i = 0; i < secs * 10; i++)); do
    redis_check "$port" && return 0
    sleep 0.1
  done
  die "$name on $HOST:$port does not answer PING within ${secs}s (log: $LOG_DIR/$name.log)"
}

up_redis() {
  install_redis
  if ours redis; then
    check_ports redis "$REDIS_PORT"
    say "redis already running (pid $(our_pid redis))"
  elif port_open "$HOST" "$REDIS_PORT"; then
    foreign redis "$REDIS_PORT"
  else
    say "starting redis on $HOST:$REDIS_PORT"
    spawn redis "$REDIS_PORT" "$(command -v redis-server)" --port "$REDIS_PORT" --bind "$HOST" \
      --save "" --appendonly yes --appendfsync everysec --daemonize no --dir "$DATA_DIR/redis" \
      --maxmemory-policy noeviction
    await redis "$REDIS_PORT" 20
  fi
  redis_loaded redis "$REDIS_PORT" 120
  summary redis "redis://$HOST:$REDIS_PORT" "$(origin redis)"
}

up_redis_cache() {
  install_redis
  if ours redis-cache; then
    check_ports redis-cache "$REDIS_CACHE_PORT"
    say "redis-cache already running (pid $(our_pid redis-cache))"
  elif port_open "$HOST" "$REDIS_CACHE_PORT"; then
    foreign redis-cache "$REDIS_CACHE_PORT"
  else
    say "starting redis-cache on $HOST:$REDIS_CACHE_PORT"
    spawn redis-cache "$REDIS_CACHE_PORT" "$(command -v redis-server)" --port "$REDIS_CACHE_PORT" --bind "$HOST" \
      --save "" --appendonly no --daemonize no --dir "$DATA_DIR/redis-cache" \
      --maxmemory 64mb --maxmemory-policy volatile-lru
    await redis-cache "$REDIS_CACHE_PORT" 20
  fi
  redis_check "$REDIS_CACHE_PORT" || die "redis-cache on $HOST:$REDIS_CACHE_PORT does not answer PING"
  summary cache "redis://$HOST:$REDIS_CACHE_PORT" "$(origin redis-cache)"
}

# ---------------------------------------------------------------------------------------------
# Kafka: Apache Kafka's own jars from Maven Central (scripts/kafka/pom.xml), one combined
# broker+controller in KRaft mode. The quorum is given as static controller.quorum.voters, so
# the formatted storage does not pin the controller's port and KAFKA_CONTROLLER_PORT can change.

install_kafka() {
  local pom="$PROJECT_ROOT/scripts/kafka/pom.xml" want t0=$SECONDS
  want="$KAFKA_VERSION $(sha256sum <"$pom" | cut -c1-16)"
  [ "$(cat "$KAFKA_HOME/.installed" 2>/dev/null)" = "$want" ] && [ -d "$KAFKA_LIBS_DIR" ] && return 0
  ensure_maven
  say "fetching Apache Kafka $KAFKA_VERSION from Maven Central"
  rm -rf "$KAFKA_HOME/libs.new"
  mvn -q -B -f "$pom" dependency:copy-dependencies -Dkafka.version="$KAFKA_VERSION" \
    -DoutputDirectory="$KAFKA_HOME/libs.new" >"$LOG_DIR/install-kafka.log" 2>&1 ||
    die "mvn could not fetch Kafka (log: $LOG_DIR/install-kafka.log)"
  rm -rf "$KAFKA_LIBS_DIR"
  mv "$KAFKA_HOME/libs.new" "$KAFKA_LIBS_DIR"
  echo "$want" >"$KAFKA_HOME/.installed"
  say "Kafka $KAFKA_VERSION installed in $((SECONDS - t0))s ($KAFKA_LIBS_DIR)"
}

write_kafka_config() {
  local d="$DATA_DIR/kafka"
  mkdir -p "$d"
  cat >"$d/server.properties" <<EOF
# Written by scripts/infra.sh before every start: edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$d/data
num.partitions=6
auto.create.topics.enable=true
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# After a hard kill the restarted broker waits for its old session to expire (9 s by default).
broker.session.timeout.ms=3000
broker.heartbeat.interval.ms=500
EOF
  # Kafka 4 logs through log4j2; without a configuration it would print errors only.
  cat >"$d/log4j2.properties" <<'EOF'
rootLogger.level=INFO
rootLogger.appenderRef.stdout.ref=STDOUT
appender.stdout.type=Console
appender.stdout.name=STDOUT
appender.stdout.layout.type=PatternLayout
appender.stdout.layout.pattern=[%d] %p %m (%c)%n
logger.request.name=kafka.request.logger
logger.request.level=WARN
logger.state.name=state.change.logger
logger.state.level=WARN
EOF
}

format_kafka_storage() {
  local d="$DATA_DIR/kafka"
  [ -f "$d/data/meta.properties" ] && return 0
  say "formatting Kafka storage in $d/data (cluster id $KAFKA_CLUSTER_ID)"
  "$JAVA_BIN" -Xmx256m -cp "$KAFKA_LIBS_DIR/*" kafka.tools.StorageTool format \
    --config "$d/server.properties" --cluster-id "$KAFKA_CLUSTER_ID" >>"$LOG_DIR/kafka.log" 2>&1 ||
    die "formatting Kafka storage failed (log: $LOG_DIR/kafka.log)"
}

# The port opens before the broker has caught up with the metadata quorum; listing topics goes
# through a real Metadata round trip. One JVM start (~1-2 s), so it is done after a start only.
kafka_check() {
  timeout 60 "$JAVA_BIN" -Xmx128m -XX:TieredStopAtLevel=1 -cp "$KAFKA_LIBS_DIR/*" \
    org.apache.kafka.tools.TopicCommand --bootstrap-server "$HOST:$KAFKA_PORT" --list >/dev/null 2>&1
}

up_kafka() {
  install_kafka
  ensure_jdk
  if ours kafka; then
    check_ports kafka "$KAFKA_PORT,$KAFKA_CONTROLLER_PORT"
    say "kafka already running (pid $(our_pid kafka))"
    await kafka "$KAFKA_PORT" 120
  elif port_open "$HOST" "$KAFKA_PORT"; then
    foreign kafka "$KAFKA_PORT"
  elif port_open "$HOST" "$KAFKA_CONTROLLER_PORT"; then
    foreign kafka-controller "$KAFKA_CONTROLLER_PORT"
  else
    write_kafka_config
    format_kafka_storage
    say "starting kafka on $HOST:$KAFKA_PORT (controller $HOST:$KAFKA_CONTROLLER_PORT)"
    local t0=$SECONDS
    # shellcheck disable=SC2086 # KAFKA_HEAP_OPTS holds several JVM options
    spawn kafka "$KAFKA_PORT,$KAFKA_CONTROLLER_PORT" "$JAVA_BIN" $KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
      -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
      -Dlog4j2.configurationFile="$DATA_DIR/kafka/log4j2.properties" \
      -cp "$KAFKA_LIBS_DIR/*" kafka.Kafka "$DATA_DIR/kafka/server.properties"
    await kafka "$KAFKA_PORT" 120
    kafka_check || kafka_check || die "kafka answers on $HOST:$KAFKA_PORT but cannot list topics (log: $LOG_DIR/kafka.log)"
    say "kafka ready after $((SECONDS - t0))s"
  fi
  summary kafka "$HOST:$KAFKA_PORT" "$(origin kafka)"
}

# ---------------------------------------------------------------------------------------------
# MongoDB wire: mongo-java-server (the default: it passes every check in
# docs/mongo-wire-compat.md) or FerretDB 1.x on SQLite, picked with MONGO_WIRE_SERVER; only the
# picked one is installed and runs on MONGO_PORT.

install_ferretdb() {
  "$FERRETDB_BIN" --version 2>/dev/null | grep -qx "version: $FERRETDB_VERSION" && return 0
  ensure_go
  local t0=$SECONDS src work
  say "building FerretDB $FERRETDB_VERSION (Go module proxy)"
  src=$(go_module_src github.com/FerretDB/FerretDB "$FERRETDB_VERSION")
  work=$(mktemp -d)
  cp -r "$src/." "$work"
  chmod -R u+w "$work"
  # `go install …/cmd/ferretdb@v1.24.2` builds a binary that panics at start: it wants
  # build/version/version.txt, which FerretDB's release tooling generates and the module lacks.
  echo "$FERRETDB_VERSION" >"$work/build/version/version.txt"
  (cd "$work" && GOFLAGS=-buildvcs=false go build -o "$FERRETDB_BIN.new" ./cmd/ferretdb) \
    >"$LOG_DIR/install-ferretdb.log" 2>&1 || die "building FerretDB failed (log: $LOG_DIR/install-ferretdb.log)"
  mv "$FERRETDB_BIN.new" "$FERRETDB_BIN"
  rm -rf "$work"
  say "FerretDB $FERRETDB_VERSION installed in $((SECONDS - t0))s ($FERRETDB_BIN)"
}

install_mongo_java_server() {
  local dir="$PROJECT_ROOT/scripts/mongo-java-server" want t0=$SECONDS
  want="$MONGO_JAVA_SERVER_VERSION $(cat "$dir/pom.xml" "$dir/Launcher.java" | sha256sum | cut -c1-16)"
  [ "$(cat "$MJS_HOME/.installed" 2>/dev/null)" = "$want" ] && [ -f "$MJS_HOME/classes/Launcher.class" ] && return 0
  ensure_maven
  ensure_jdk
  say "fetching mongo-java-server $MONGO_JAVA_SERVER_VERSION from Maven Central"
  rm -rf "$MJS_HOME/libs" "$MJS_HOME/classes"
  mvn -q -B -f "$dir/pom.xml" dependency:copy-dependencies \
    -Dmongo-java-server.version="$MONGO_JAVA_SERVER_VERSION" -DoutputDirectory="$MJS_HOME/libs" \
    >"$LOG_DIR/install-mongo-java-server.log" 2>&1 ||
    die "mvn could not fetch mongo-java-server (log: $LOG_DIR/install-mongo-java-server.log)"
  "$(dirname "$JAVA_BIN")/javac" -nowarn -d "$MJS_HOME/classes" -cp "$MJS_HOME/libs/*" "$dir/Launcher.java" \
    >>"$LOG_DIR/install-mongo-java-server.log" 2>&1 ||
    die "compiling Launcher.java failed (log: $LOG_DIR/install-mongo-java-server.log)"
  echo "$want" >"$MJS_HOME/.installed"
  say "mongo-java-server $MONGO_JAVA_SERVER_VERSION installed in $((SECONDS - t0))s ($MJS_HOME)"
}

start_ferretdb() {
  mkdir -p "$DATA_DIR/ferretdb/sqlite"
  # --debug-addr=- : its metrics listener would otherwise take 127.0.0.1:8088.
  spawn ferretdb "$MONGO_PORT" "$FERRETDB_BIN" --handler=sqlite --sqlite-url="file:$DATA_DIR/ferretdb/sqlite/" \
    --listen-addr="$HOST:$MONGO_PORT" --state-dir="$DATA_DIR/ferretdb" --debug-addr=- \
    --telemetry=disable --log-level=warn
}

start_mongo_java_server() {
  local backend=(--backend "$MONGO_JAVA_SERVER_BACKEND")
  ensure_jdk
  [ "$MONGO_JAVA_SERVER_BACKEND" = h2 ] &&
    backend+=(--h2-file "$DATA_DIR/mongo-java-server/db.mv" --h2-cache-mb "$MONGO_JAVA_SERVER_H2_CACHE_MB")
  # The GC log: the store allocates ~450 MB/s (H2 Java-serialises every page it writes), and its
  # young collections (~45 ms, about one a second in a soak at 100/s) show in the p99.
  spawn mongo-java-server "$MONGO_PORT" "$JAVA_BIN" "-Xmx$MONGO_JAVA_SERVER_HEAP" -XX:+ExitOnOutOfMemoryError \
    "-Xlog:gc:file=$LOG_DIR/mongo-java-server-gc.log:uptime:filecount=2,filesize=20m" \
    -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$MONGO_JAVA_SERVER_CP" \
    Launcher --host "$HOST" --port "$MONGO_PORT" "${backend[@]}"
}

# Sends isMaster over OP_MSG (the only handshake both candidates know; mongo-java-server has
# no `hello`) and prints the reported maxWireVersion. The Rust driver needs 9 or more.
mongo_check() {
  have python3 || { port_open "$HOST" "$MONGO_PORT"; return; }
  python3 - "$HOST" "$MONGO_PORT" <<'PY'
import socket, struct, sys
def bson(items):
    body = b""
    for key, value in items:
        if isinstance(value, int):
            body += b"\x10" + key.encode() + b"\x00" + struct.pack("<i", value)
        else:
            s = value.encode() + b"\x00"
            body += b"\x02" + key.encode() + b"\x00" + struct.pack("<i", len(s)) + s
    return struct.pack("<i", len(body) + 5) + body + b"\x00"
msg = struct.pack("<I", 0) + b"\x00" + bson([("isMaster", 1), ("$db", "admin")])
sock = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
sock.sendall(struct.pack("<iiii", 16 + len(msg), 1, 0, 2013) + msg)
buf = b""
while len(buf) < 4 or len(buf) < struct.unpack("<i", buf[:4])[0]:
    chunk = sock.recv(65536)
    if not chunk:
        break
    buf += chunk
i = buf.find(b"\x10maxWireVersion\x00")
j = buf.find(b"\x01ok\x00")
ok = j >= 0 and struct.unpack("<d", buf[j + 4:j + 12])[0] == 1.0
print(struct.unpack("<i", buf[i + 16:i + 20])[0] if i >= 0 else "?")
sys.exit(0 if ok else 1)
PY
}

up_mongo() {
  local name=$MONGO_WIRE_SERVER other wire
  case $name in
    ferretdb) other=mongo-java-server ;;
    mongo-java-server) other=ferretdb ;;
    *) die "MONGO_WIRE_SERVER must be ferretdb or mongo-java-server, not '$name'" ;;
  esac
  "install_${name//-/_}"
  if ours "$name"; then
    check_ports "$name" "$MONGO_PORT"
    say "$name already running (pid $(our_pid "$name"))"
    await "$name" "$MONGO_PORT" 60
  elif ours "$other"; then
    check_ports "$other" "$MONGO_PORT"
    say "mongo: $HOST:$MONGO_PORT is served by $other (ours); run 'scripts/infra.sh down mongo' first to switch to $name"
    name=$other
  elif port_open "$HOST" "$MONGO_PORT"; then
    foreign mongo "$MONGO_PORT"
  else
    say "starting $name on $HOST:$MONGO_PORT"
    "start_${name//-/_}"
    await "$name" "$MONGO_PORT" 60
  fi
  wire=$(mongo_check) || die "$HOST:$MONGO_PORT does not answer isMaster like a MongoDB server"
  summary mongo "mongodb://$HOST:$MONGO_PORT" "$name, wire version $wire, $(origin "$name")"
}

# ---------------------------------------------------------------------------------------------
# SMTP: Mailpit, with its web inbox and HTTP API on MAIL_UI_PORT.

install_mailpit() {
  local want stamp="$MARKETPLACE_TOOLS/bin/.mailpit-version" t0=$SECONDS src work ui=with-ui
  [ -x "$MAILPIT_BIN" ] && grep -q "^$MAILPIT_VERSION " "$stamp" 2>/dev/null && return 0
  ensure_go
  ensure_node
  say "building Mailpit $MAILPIT_VERSION with its web UI (Go module proxy + npm)"
  src=$(go_module_src github.com/axllent/mailpit "$MAILPIT_VERSION")
  work=$(mktemp -d)
  cp -r "$src/." "$work"
  chmod -R u+w "$work"
  # The web UI's JavaScript/CSS is built by npm and is not part of the Go module, so a plain
  # `go install` serves a blank page (the API works). Its lockfile pins packages the npm registry
  # here does not serve (rapidoc 12, sass-embedded 1.108.1), so build from package.json with
  # only the build tools, rapidoc 9 for the API docs page, and the pure-JS sass.
  if (cd "$work" && node -e '
      const fs = require("fs");
      const p = JSON.parse(fs.readFileSync("package.json"));
      const keep = ["esbuild", "esbuild-plugin-vue-next", "esbuild-sass-plugin", "@vue/compiler-sfc"];
      p.devDependencies = Object.fromEntries(Object.entries(p.devDependencies).filter(([k]) => keep.includes(k)));
      if (p.dependencies.rapidoc) p.dependencies.rapidoc = "9.3.8";
      fs.writeFileSync("package.json", JSON.stringify(p, null, 2));' &&
    rm -f package-lock.json &&
    npm install --legacy-peer-deps --no-audit --no-fund --loglevel=error &&
    npm run package) >"$LOG_DIR/install-mailpit.log" 2>&1; then :; else
    say "warning: Mailpit's web UI did not build (log: $LOG_DIR/install-mailpit.log); building it without (API and SMTP work)"
    ui=without-ui
  fi
  (cd "$work" && GOFLAGS=-buildvcs=false go build -ldflags "-X github.com/axllent/mailpit/config.Version=$MAILPIT_VERSION" \
    -o "$MAILPIT_BIN.new" .) >>"$LOG_DIR/install-mailpit.log" 2>&1 ||
    die "building Mailpit failed (log: $LOG_DIR/install-mailpit.log)"
  mv "$MAILPIT_BIN.new" "$MAILPIT_BIN"
  echo "$MAILPIT_VERSION $ui" >"$stamp"
  rm -rf "$work"
  say "Mailpit $MAILPIT_VERSION ($ui) installed in $((SECONDS - t0))s ($MAILPIT_BIN; to retry the UI, delete it)"
}

smtp_check() {
  (
    exec 3<>"/dev/tcp/$HOST/$SMTP_PORT"
    IFS= read -r -t 5 banner <&3
    printf 'QUIT\r\n' >&3
    [[ $banner == 220* ]]
  ) 2>/dev/null
}

mail_api_check() { "$MAILPIT_BIN" readyz --listen "$HOST:$MAIL_UI_PORT" >/dev/null 2>&1; }

up_smtp() {
  install_mailpit
  if ours mailpit; then
    check_ports mailpit "$SMTP_PORT,$MAIL_UI_PORT"
    say "mailpit already running (pid $(our_pid mailpit))"
    await mailpit "$SMTP_PORT" 30
    await mailpit "$MAIL_UI_PORT" 30
  elif port_open "$HOST" "$SMTP_PORT" || port_open "$HOST" "$MAIL_UI_PORT"; then
    port_open "$HOST" "$SMTP_PORT" && foreign smtp "$SMTP_PORT"
    port_open "$HOST" "$MAIL_UI_PORT" && foreign mail-ui "$MAIL_UI_PORT"
  else
    say "starting mailpit: SMTP $HOST:$SMTP_PORT, web/API $HOST:$MAIL_UI_PORT"
    # Accept any SMTP login without TLS, so code that always authenticates (as it must with
    # a real provider) works unchanged against the local catcher.
    spawn mailpit "$SMTP_PORT,$MAIL_UI_PORT" "$MAILPIT_BIN" --smtp "$HOST:$SMTP_PORT" --listen "$HOST:$MAIL_UI_PORT" \
      --database "$DATA_DIR/mailpit/mailpit.db" --disable-version-check --max "$MAILPIT_MAX_MESSAGES" \
      --smtp-auth-accept-any --smtp-auth-allow-insecure
    await mailpit "$SMTP_PORT" 30
    await mailpit "$MAIL_UI_PORT" 30
  fi
  smtp_check || die "$HOST:$SMTP_PORT does not greet like an SMTP server"
  mail_api_check || say "warning: no Mailpit API on $HOST:$MAIL_UI_PORT"
  summary smtp "smtp://$HOST:$SMTP_PORT" "$(origin mailpit)"
  summary mail "http://$HOST:$MAIL_UI_PORT" "web inbox + API (/api/v1/messages)"
}

# ---------------------------------------------------------------------------------------------

pid_names() {
  case $1 in
    redis | redis-cache | kafka) echo "$1" ;;
    mongo) echo "ferretdb mongo-java-server" ;;
    smtp) echo mailpit ;;
    *) die "unknown server '$1' (known: redis redis-cache kafka mongo smtp)" ;;
  esac
}

lock() {
  exec 9>"$RUN_DIR/infra.lock"
  flock 9
}

cmd_up() {
  local names=("$@") n t0=$SECONDS
  [ ${#names[@]} -gt 0 ] || names=(redis redis-cache kafka mongo smtp)
  for n in "${names[@]}"; do pid_names "$n" >/dev/null; done
  lock
  for n in "${names[@]}"; do "up_${n//-/_}"; done
  printf '%s\n' "${SUMMARY[@]}"
  say "ready in $((SECONDS - t0))s"
}

cmd_down() {
  local names=("$@") n p
  [ ${#names[@]} -gt 0 ] || names=(redis redis-cache kafka mongo smtp)
  for n in "${names[@]}"; do pid_names "$n" >/dev/null; done
  lock
  for n in "${names[@]}"; do
    for p in $(pid_names "$n"); do
      # Kafka's controlled shutdown takes a few seconds; SIGKILL only as the last resort.
      if ours "$p"; then stop_pid "$p" 60; fi
      rm -f "$RUN_DIR/$p.ports"
    done
  done
}

status_line() {
  local label=$1 port=$2 pidname=$3 state=down who=""
  port_open "$HOST" "$port" && state=listening
  if ours_on "$pidname" "$port"; then who="pid $(our_pid "$pidname") ($pidname, ours)"; elif [ $state = listening ]; then who="not ours"; fi
  printf '%-12s %-10s %-22s %s\n' "$label" "$state" "$HOST:$port" "$who"
  [ $state = listening ]
}

cmd_status() {
  local rc=0 mongo_pid=$MONGO_WIRE_SERVER
  ours ferretdb && mongo_pid=ferretdb
  ours mongo-java-server && mongo_pid=mongo-java-server
  status_line redis "$REDIS_PORT" redis || rc=3
  status_line redis-cache "$REDIS_CACHE_PORT" redis-cache || rc=3
  status_line kafka "$KAFKA_PORT" kafka || rc=3
  status_line mongo "$MONGO_PORT" "$mongo_pid" || rc=3
  status_line smtp "$SMTP_PORT" mailpit || rc=3
  status_line mail-ui "$MAIL_UI_PORT" mailpit || rc=3
  return $rc
}

cmd_env() {
  local v
  find_java || true
  printf 'export %s=%q\n' \
    REDIS_URL "redis://$HOST:$REDIS_PORT" \
    CACHE_REDIS_URL "redis://$HOST:$REDIS_CACHE_PORT" \
    KAFKA_BROKERS "$HOST:$KAFKA_PORT" \
    MONGODB_URI "mongodb://$HOST:$MONGO_PORT" \
    SMTP_URL "smtp://$HOST:$SMTP_PORT" \
    MAIL_API_URL "http://$HOST:$MAIL_UI_PORT" \
    MONGO_WIRE_SERVER "$MONGO_WIRE_SERVER"
  # Paths for tests that start private instances; each only once it is installed.
  v=$(command -v redis-server || true)
  [ -n "$v" ] && printf 'export REDIS_SERVER_BIN=%q\n' "$v" || echo "# REDIS_SERVER_BIN: not installed (scripts/infra.sh up redis)"
  [ -d "$KAFKA_LIBS_DIR" ] && printf 'export KAFKA_LIBS_DIR=%q\n' "$KAFKA_LIBS_DIR" || echo "# KAFKA_LIBS_DIR: not installed (scripts/infra.sh up kafka)"
  [ -n "$JAVA_BIN" ] && printf 'export JAVA_BIN=%q\n' "$JAVA_BIN" || echo "# JAVA_BIN: no Java 17+ (scripts/infra.sh up kafka)"
  [ -x "$FERRETDB_BIN" ] && printf 'export FERRETDB_BIN=%q\n' "$FERRETDB_BIN" || echo "# FERRETDB_BIN: not installed (scripts/infra.sh up mongo)"
  [ -x "$MAILPIT_BIN" ] && printf 'export MAILPIT_BIN=%q\n' "$MAILPIT_BIN" || echo "# MAILPIT_BIN: not installed (scripts/infra.sh up smtp)"
  [ -f "$MJS_HOME/classes/Launcher.class" ] && printf 'export MONGO_JAVA_SERVER_CP=%q\n' "$MONGO_JAVA_SERVER_CP"
  # The browser tests' accessibility engine, once scripts/axe-core.sh (run by scripts/test.sh)
  # has installed it.
  v=$(ls "$MARKETPLACE_TOOLS"/axe-core-*/package/axe.min.js 2>/dev/null | tail -n1 || true)
  [ -n "$v" ] && printf 'export AXE_CORE_JS=%q\n' "$v" || echo "# AXE_CORE_JS: not installed (scripts/axe-core.sh)"
  return 0
}

usage() { sed -n '6,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

case ${1:-} in
  up) shift; cmd_up "$@" ;;
  down) shift; cmd_down "$@" ;;
  status) cmd_status ;;
  env) cmd_env ;;
  *) usage ;;
esac
