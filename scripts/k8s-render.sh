#!/usr/bin/env bash
# Builds a Kubernetes overlay of deploy/k8s/ offline and prints the rendered objects as one
# JSON array, after decoding each strictly into its k8s.io/api type: an unknown or misspelt
# field, a wrong type or a kind Kubernetes does not have fails (exit 1, the object and field
# named on stderr). Uses tools/k8s-check (the kustomize API and client-go's scheme), built once
# per machine into $MARKETPLACE_TOOLS/bin and again whenever its sources change. No cluster.
#   scripts/k8s-render.sh dev|prod|/path/to/an/overlay
source "$(dirname "$0")/lib/common.sh"
overlay=${1:?usage: scripts/k8s-render.sh OVERLAY (dev, prod or a folder)}
case $overlay in
  */*) overlay_dir=$overlay ;;
  *) overlay_dir="$PROJECT_ROOT/deploy/k8s/overlays/$overlay" ;;
esac
[ -d "$overlay_dir" ] || die "no overlay $overlay_dir"

checker="$MARKETPLACE_TOOLS/bin/k8s-check"
source_dir="$PROJECT_ROOT/tools/k8s-check"
if [ ! -x "$checker" ] || [ -n "$(find "$source_dir" -newer "$checker" -type f | head -n1)" ]; then
  have go || die "go is needed to build tools/k8s-check"
  say "building tools/k8s-check (kustomize API, client-go scheme; about a minute the first time)"
  # Lowest priority: it compiles all of k8s.io/api and may share the machine with cargo.
  (cd "$source_dir" && nice -n 19 go build -o "$checker" .)
fi
exec "$checker" "$overlay_dir"
