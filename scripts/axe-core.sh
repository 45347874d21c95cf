#!/usr/bin/env bash
# Installs axe-core (the accessibility engine the browser tests run in every page) from the
# npm registry once per machine, and prints the path of its axe.min.js.
#   export AXE_CORE_JS=$(scripts/axe-core.sh)
source "$(dirname "$0")/lib/common.sh"

AXE_CORE_VERSION=4.14.1
dir="$MARKETPLACE_TOOLS/axe-core-$AXE_CORE_VERSION"
script="$dir/package/axe.min.js"
if [ ! -f "$script" ]; then
  have npm || apt_install nodejs npm
  say "installing axe-core $AXE_CORE_VERSION (npm)"
  work=$(mktemp -d)
  (cd "$work" && npm pack --silent "axe-core@$AXE_CORE_VERSION" >/dev/null) \
    || die "npm could not fetch axe-core@$AXE_CORE_VERSION"
  mkdir -p "$dir.new"
  tar -xzf "$work"/axe-core-*.tgz -C "$dir.new"
  rm -rf "$work" "$dir"
  mv "$dir.new" "$dir"
  [ -f "$script" ] || die "axe-core@$AXE_CORE_VERSION has no axe.min.js"
fi
printf '%s\n' "$script"
