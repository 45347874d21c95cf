# Shared helpers for the project's shell scripts. Source it; it does nothing by itself.
# Tools are installed once per machine under $MARKETPLACE_TOOLS (kept between clones);
# data, logs and pid files of the local servers live under the project's .local/.

set -euo pipefail

PROJECT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MARKETPLACE_TOOLS="${MARKETPLACE_TOOLS:-$HOME/.cache/marketplace-tools}"
# The Rust that builds the release hydrate bundle: `-Zbuild-std` and `-Cpanic=immediate-abort`
# exist only on nightly, so one pinned day of it (everything else builds on stable).
BUNDLE_TOOLCHAIN=nightly-2026-05-20
LOCAL_DIR="${MARKETPLACE_LOCAL:-$PROJECT_ROOT/.local}"
RUN_DIR="$LOCAL_DIR/run"
LOG_DIR="$LOCAL_DIR/log"
DATA_DIR="$LOCAL_DIR/data"
mkdir -p "$MARKETPLACE_TOOLS/bin" "$RUN_DIR" "$LOG_DIR" "$DATA_DIR"
export PATH="$MARKETPLACE_TOOLS/bin:$HOME/.cargo/bin:$PATH"

say() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

# apt-get update runs at most once per script run, and only when something is missing.
APT_UPDATED=0
apt_install() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]} (apt)"
  if [ "$APT_UPDATED" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# wait_for_port HOST PORT SECONDS NAME
wait_for_port() {
  local host=$1 port=$2 secs=$3 name=$4 i
  for ((i = 0; i < secs * 10; i++)); do
    if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  die "$name did not answer on $host:$port within ${secs}s (log: $LOG_DIR)"
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# pid_alive NAME: the process this project started under NAME is still running.
pid_alive() {
  local f="$RUN_DIR/$1.pid"
  [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null
}

# stop_pid NAME [SECS]: stop only a process that this project started (by its pid file);
# SIGTERM first, SIGKILL after SECS (default 10) for a server that does not finish in time.
stop_pid() {
  local name=$1 f="$RUN_DIR/$1.pid" secs=${2:-10} pid i
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for ((i = 0; i < secs * 10; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    say "stopped $name (pid $pid)"
  fi
  rm -f "$f"
}
