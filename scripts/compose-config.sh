#!/usr/bin/env bash
# Validates docker-compose.yml and prints the resolved project as JSON, the way
# `docker compose config` does. Uses `docker compose` when the client has it; otherwise
# tools/compose-check (compose-go, the library inside docker compose), built once per machine.
#   scripts/compose-config.sh ENV_FILE
source "$(dirname "$0")/lib/common.sh"
env_file=${1:?usage: scripts/compose-config.sh ENV_FILE}
compose_file="$PROJECT_ROOT/docker-compose.yml"

if docker compose version >/dev/null 2>&1; then
  exec docker compose --project-name marketplace --env-file "$env_file" -f "$compose_file" config --format json
fi

checker="$MARKETPLACE_TOOLS/bin/compose-check"
source_dir="$PROJECT_ROOT/tools/compose-check"
if [ ! -x "$checker" ] || [ -n "$(find "$source_dir" -newer "$checker" -type f | head -n1)" ]; then
  have go || die "go is needed to build tools/compose-check"
  say "building tools/compose-check (compose-go)"
  (cd "$source_dir" && go build -o "$checker" .)
fi
exec "$checker" "$compose_file" "$env_file"
