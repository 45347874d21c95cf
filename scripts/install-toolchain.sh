#!/usr/bin/env bash
# Installs what building the hydrated site needs, each only when missing:
# the wasm32 target, a pinned nightly Rust with its library's source (the release bundle
# builds its own std, smaller: scripts/build-site.sh), wasm-bindgen-cli (same version as the
# wasm-bindgen crate pinned in Cargo.toml), wasm-split-cli (cuts the bundle where the app's lazily loaded routes begin) and
# wasm-opt from npm's binaryen (Debian's wasm-opt 108 breaks hydration).
source "$(dirname "$0")/lib/common.sh"

WASM_BINDGEN_VERSION=$(grep -Po '^wasm-bindgen\s*=\s*\{?[^"]*"=\K[0-9.]+' "$PROJECT_ROOT/Cargo.toml")
BINARYEN_VERSION=132.0.0
WASM_SPLIT_VERSION=0.2.4

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

bundle_sysroot=$(rustup run "$BUNDLE_TOOLCHAIN" rustc --print sysroot 2>/dev/null || true)
if [ -z "$bundle_sysroot" ] || [ ! -d "$bundle_sysroot/lib/rustlib/src/rust/library" ]; then
  say "installing Rust $BUNDLE_TOOLCHAIN with rust-src (once per machine)"
  rustup toolchain install "$BUNDLE_TOOLCHAIN" --profile minimal --component rust-src
fi

if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
  say "building wasm-bindgen-cli $WASM_BINDGEN_VERSION (once per machine, several minutes)"
  src=$(mktemp -d)
  # The published lockfile pins webpki-roots 1.0.11, which the registry does not serve; 1.0.10 works.
  (cd "$src" && cargo init -q --name fetch_wbg && cargo add -q "wasm-bindgen-cli@=$WASM_BINDGEN_VERSION" && cargo fetch -q)
  crate_dir=$(ls -d "$HOME"/.cargo/registry/src/*/wasm-bindgen-cli-"$WASM_BINDGEN_VERSION" | head -n1)
  cp -r "$crate_dir" "$src/wbg"
  (cd "$src/wbg" && cargo update -q -p webpki-roots --precise 1.0.10 && \
    cargo install -q --locked --path . --root "$MARKETPLACE_TOOLS" --bins)
  rm -rf "$src"
fi

if [ ! -x "$MARKETPLACE_TOOLS/bin/wasm-split-cli" ] || \
   [ "$(cat "$MARKETPLACE_TOOLS/wasm-split.version" 2>/dev/null)" != "$WASM_SPLIT_VERSION" ]; then
  say "building wasm-split-cli $WASM_SPLIT_VERSION (once per machine)"
  cargo install -q --locked --root "$MARKETPLACE_TOOLS" --features build-binary \
    "wasm_split_cli_support@=$WASM_SPLIT_VERSION"
  echo "$WASM_SPLIT_VERSION" > "$MARKETPLACE_TOOLS/wasm-split.version"
fi

if ! "$MARKETPLACE_TOOLS/npm/node_modules/.bin/wasm-opt" --version 2>/dev/null | grep -q "${BINARYEN_VERSION%%.*}"; then
  say "installing wasm-opt (npm binaryen $BINARYEN_VERSION)"
  mkdir -p "$MARKETPLACE_TOOLS/npm"
  npm install --silent --no-audit --no-fund --prefix "$MARKETPLACE_TOOLS/npm" "binaryen@$BINARYEN_VERSION" >/dev/null
fi
ln -sf "$MARKETPLACE_TOOLS/npm/node_modules/.bin/wasm-opt" "$MARKETPLACE_TOOLS/bin/wasm-opt"
say "toolchain ready: $(wasm-bindgen --version), wasm-opt $(wasm-opt --version | awk '{print $3}')"
