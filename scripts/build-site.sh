#!/usr/bin/env bash
# Builds the hydrated site into $SITE_ROOT/pkg: the frontend crate for wasm32, cut by wasm-split-cli
# into the main module and one piece per lazily loaded route (plus pieces they share, and the
# `__wasm_split.js` that loads them), wasm-bindgen on the main module, wasm-opt, the stylesheet,
# and precompressed .br/.gz copies the gateway serves as they are.
# (cargo-leptos does the same for a developer's watch loop; this script needs no cargo-leptos,
# which keeps a cold CI run short.)
#   scripts/build-site.sh           release bundle, as users get it
#   scripts/build-site.sh --dev     unoptimised, faster to build
source "$(dirname "$0")/lib/common.sh"
"$PROJECT_ROOT/scripts/install-toolchain.sh"

profile=wasm-release
[ "${1:-}" = "--dev" ] && profile=dev
target_dir="${CARGO_TARGET_DIR:-$PROJECT_ROOT/target}"
site_root="${SITE_ROOT:-$target_dir/site}"
pkg="$site_root/pkg"
name=marketplace
profile_dir=$profile; [ "$profile" = dev ] && profile_dir=debug

say "building the hydrate bundle ($profile)"
if [ "$profile" = dev ]; then
  (cd "$PROJECT_ROOT" && cargo build --locked -q -p frontend --lib --target wasm32-unknown-unknown)
else
  # Users get the smallest bundle: the standard library built for it, sized for size, a panic
  # a plain trap (no messages or their formatting; `--dev` keeps them for debugging), and no
  # source locations (2026-12-05: the main module 296 -> 270 KiB brotli, 9% less). `{:?}`
  # prints nothing in it (-Zfmt-debug=none, 2.9 KiB less): no text a user sees is made by
  # Debug, only log lines and panic messages, which `--dev` keeps too.
  (cd "$PROJECT_ROOT" && cargo "+$BUNDLE_TOOLCHAIN" build --locked -q -p frontend --lib \
    --target wasm32-unknown-unknown --profile "$profile" \
    -Zbuild-std=std,panic_abort -Zbuild-std-features=optimize_for_size \
    --config 'target.wasm32-unknown-unknown.rustflags = ["-Zunstable-options", "-Cpanic=immediate-abort", "-Zlocation-detail=none", "-Zfmt-debug=none"]')
fi
rm -rf "$pkg" && mkdir -p "$pkg"
split_dir=$(mktemp -d)
trap 'rm -rf "$split_dir"' EXIT
wasm-split-cli --target web --out-name "$name" \
  "$target_dir/wasm32-unknown-unknown/$profile_dir/frontend.wasm" "$split_dir"
wasm-bindgen --target web --no-typescript --keep-lld-exports --out-dir "$pkg" --out-name "$name" \
  "$split_dir/$name.wasm"
rm "$split_dir/$name.wasm"
cp "$split_dir"/* "$pkg/"
if [ "$profile" != dev ]; then
  for wasm in "$pkg"/*.wasm; do
    # The passes that gave the fewest bytes as sent (brotli) on 2026-12-05: -Os over -Oz (a
    # larger module that compresses better), after flattening and re-looping the control flow.
    # (wasm-opt warns about a name subsection it does not know; the optimised module has none.)
    wasm-opt -Os --flatten --rereloop -Os -Os --enable-bulk-memory --enable-nontrapping-float-to-int \
      -o "$wasm" "$wasm" \
      2> >(grep -v 'unknown name subsection' >&2)
  done
fi
cp "$PROJECT_ROOT/style/main.css" "$pkg/$name.css"
rm -rf "$site_root/images" && cp -r "$PROJECT_ROOT/style/images" "$site_root/images"
if ! have brotli; then apt_install brotli; fi
for f in "$pkg"/*.wasm "$pkg"/*.js "$pkg/$name.css"; do
  brotli -f -q 11 -o "$f.br" "$f"
  gzip -f -k -9 "$f"
done
raw=$(stat -c %s "$pkg/${name}_bg.wasm"); br=$(stat -c %s "$pkg/${name}_bg.wasm.br")
pieces=$(find "$pkg" -name '*.wasm' ! -name "${name}_bg.wasm" | wc -l)
pieces_br=$(find "$pkg" -name '*.wasm.br' ! -name "${name}_bg.wasm.br" -printf '%s\n' | awk '{s += $1} END {print s + 0}')
say "site ready in $site_root (main wasm $((raw / 1024)) KiB raw, $((br / 1024)) KiB brotli;" \
  "$pieces lazily loaded pieces, $((pieces_br / 1024)) KiB brotli in all)"
