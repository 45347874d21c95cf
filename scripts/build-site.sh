#!/usr/bin/env bash
# Builds the hydrated site into $SITE_ROOT/pkg: the frontend crate for wasm32, wasm-bindgen,
# wasm-opt, the stylesheet, and precompressed .br/.gz copies the gateway serves as they are.
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
(cd "$PROJECT_ROOT" && cargo build --locked -q -p frontend --lib --target wasm32-unknown-unknown --profile "$profile")
mkdir -p "$pkg"
rm -f "$pkg"/"$name"*
wasm-bindgen --target web --no-typescript --out-dir "$pkg" --out-name "$name" \
  "$target_dir/wasm32-unknown-unknown/$profile_dir/frontend.wasm"
if [ "$profile" != dev ]; then
  wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
    -o "$pkg/${name}_bg.wasm" "$pkg/${name}_bg.wasm"
fi
cp "$PROJECT_ROOT/style/main.css" "$pkg/$name.css"
rm -rf "$site_root/images" && cp -r "$PROJECT_ROOT/style/images" "$site_root/images"
if ! have brotli; then apt_install brotli; fi
for f in "$pkg/${name}_bg.wasm" "$pkg/$name.js" "$pkg/$name.css"; do
  brotli -f -q 11 -o "$f.br" "$f"
  gzip -f -k -9 "$f"
done
raw=$(stat -c %s "$pkg/${name}_bg.wasm"); br=$(stat -c %s "$pkg/${name}_bg.wasm.br")
say "site ready in $site_root (wasm $((raw / 1024)) KiB raw, $((br / 1024)) KiB brotli)"
