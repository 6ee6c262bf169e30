#!/usr/bin/env bash
# Installs everything wsinspect needs to build, test and benchmark on Debian 12.
# Idempotent: packages already present are not reinstalled, and apt is only
# consulted when something is missing.
#
#   scripts/setup-deps.sh               build, test, fuzz and benchmark
#   scripts/setup-deps.sh --build-only  just what building the binary needs
set -euo pipefail

build_only=0
[ "${1:-}" = "--build-only" ] && build_only=1

packages=(
  build-essential cmake pkg-config
  libuv1-dev node-llhttp libspdlog-dev libfmt-dev
  zlib1g-dev libssl-dev libcli11-dev libtomlplusplus-dev nlohmann-json3-dev libsimdjson-dev
  libpcap-dev
)
if [ "$build_only" -eq 0 ]; then
  packages+=(
    git clang libclang-rt-14-dev clang-format
    libgtest-dev libgmock-dev libbenchmark-dev
    python3 python3-websockets
    # The metrics test parses /metrics with the Prometheus client's parser;
    # the schema test validates every JSON event against docs/events.schema.json.
    python3-prometheus-client python3-jsonschema
    # TLS tests: certificates made with the openssl tool, the system store,
    # and Chromium's WebSocket client trusting a test CA through certutil.
    openssl ca-certificates chromium libnss3-tools
    # Captures: tshark reads wsinspect's and dissects them; real
    # intermediaries between a client and a server for "which hop?".
    tshark haproxy nginx
  )
  # Node.js and npm run the `ws` test peer. A machine may already carry its
  # own Node.js build (which bundles npm and conflicts with Debian's npm).
  command -v node >/dev/null 2>&1 || packages+=(nodejs)
  command -v npm >/dev/null 2>&1 || packages+=(npm)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup-deps: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

[ "$build_only" -eq 1 ] && exit 0

# The Node `ws` peer of the integration tests, pinned by tests/peers/package-lock.json.
repo="$(cd "$(dirname "$0")/.." && pwd)"
if [ ! -d "$repo/tests/peers/node_modules/ws" ]; then
  echo "setup-deps: installing tests/peers (npm ci)"
  npm ci --prefix "$repo/tests/peers" --no-audit --no-fund
fi
