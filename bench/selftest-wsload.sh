#!/usr/bin/env bash
# Self-test of wsload on loopback: starts `wsload server` on a free port, runs
# each client scenario for 2 seconds against it and checks the JSON reports
# (no errors, plausible numbers). With --wsinspect PATH it runs them again
# through `wsinspect proxy` in front of the same server. When the openssl CLI
# is there, everything runs once more over TLS (--tls, a test CA and a P-256
# leaf made here), through wsinspect with TLS on both legs.
#
#   bench/selftest-wsload.sh [--wsload PATH] [--wsinspect PATH] [--keep]
#
# Defaults: build/bench/wsload. --keep leaves the reports and logs in the
# temporary directory it prints. Exit status 0 when every check passed.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
wsload="$root/build/bench/wsload"
wsinspect=""
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --wsload) wsload=$2; shift 2 ;;
    --wsinspect) wsinspect=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "usage: $0 [--wsload PATH] [--wsinspect PATH] [--keep]" >&2; exit 2 ;;
  esac
done
[ -x "$wsload" ] || { echo "selftest: no wsload binary at $wsload" >&2; exit 2; }
if [ -n "$wsinspect" ] && [ ! -x "$wsinspect" ]; then
  echo "selftest: no wsinspect binary at $wsinspect" >&2
  exit 2
fi

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "$keep" -eq 1 ]; then echo "selftest: reports in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# wait_for FILE REGEX: the first match of REGEX (sed -E, one group) in FILE, within 10 s.
wait_for() {
  local file=$1 regex=$2 value=""
  for _ in $(seq 100); do
    value=$(sed -nE "s/$regex/\1/p" "$file" 2>/dev/null | head -n 1)
    [ -n "$value" ] && { echo "$value"; return 0; }
    sleep 0.1
  done
  echo "selftest: nothing matching '$regex' in $file" >&2
  cat "$file" >&2 || true
  return 1
}

"$wsload" server --listen 127.0.0.1:0 >"$work/server.out" 2>"$work/server.err" &
pids+=($!)
server=$(wait_for "$work/server.out" '^listening (127\.0\.0\.1:[0-9]+)$')
echo "selftest: wsload server on $server"

# check NAME FILE EXPR...: each Python expression over the report `r` must hold.
check() {
  local name=$1 file=$2
  shift 2
  python3 - "$name" "$file" "$@" <<'EOF'
import json, sys
name, path, exprs = sys.argv[1], sys.argv[2], sys.argv[3:]
r = json.load(open(path))
lat = r["latency_us"]
failed = [e for e in exprs if not eval(e, {}, {"r": r, "lat": lat})]
summary = (f"{r['messages_per_sec']:.0f} msg/s, {r['mb_per_sec']:.1f} MB/s, "
           f"{r['handshakes_per_sec']:.0f} handshakes/s")
if lat["samples"]:
    summary += f", latency p50 {lat['p50']:.1f} p99 {lat['p99']:.1f} max {lat['max']:.1f} us"
if r["pings_sent"]:
    p = r["ping_rtt_us"]
    summary += f", {r['pongs_received']}/{r['pings_sent']} pongs, rtt p50 {p['p50']:.1f} us"
if failed:
    print(f"selftest: {name}: FAILED: " + "; ".join(failed))
    print(json.dumps(r, indent=1))
    sys.exit(1)
print(f"selftest: {name}: ok ({summary})")
EOF
}

# scenario LABEL TARGET NAME CLIENT-ARGS -- CHECKS...
scenario() {
  local label=$1 target=$2 name=$3
  shift 3
  local args=()
  while [ "$1" != "--" ]; do args+=("$1"); shift; done
  shift
  local out="$work/$label-$name.json"
  if ! "$wsload" client --target "$target" --duration 2 --json "${tls_args[@]}" "${args[@]}" \
      >"$out" 2>"$work/$label-$name.err"; then
    echo "selftest: $label $name: wsload client failed:" >&2
    cat "$work/$label-$name.err" "$out" >&2
    exit 1
  fi
  check "$label $name" "$out" \
    'r["errors"]["total"] == 0' 'r["established"] == r["connections"]' \
    'r["handshakes_per_sec"] > 0' "$@"
}

run_all() {
  local label=$1 target=$2
  # Open loop: 10 connections x 1000 msg/s for 2 s is 20000 messages.
  scenario "$label" "$target" open-loop-text-utf8 \
    --connections 10 --rate 1000 --size 512 --kind text-utf8 -- \
    'r["messages_received"] >= 18000' 'r["messages_received"] <= 20010' \
    'lat["samples"] == r["messages_received"]' \
    '0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p99_9"] <= lat["max"]' \
    'r["send_lag_us"]["samples"] == r["messages_sent"]'
  scenario "$label" "$target" closed-loop-binary-64k \
    --connections 4 --closed-loop --size 65536 --kind binary -- \
    'r["messages_received"] >= 200' 'r["mb_per_sec"] > 10' \
    'lat["samples"] == r["messages_received"]' '0 < lat["p50"] <= lat["max"]'
  scenario "$label" "$target" s2c-stream-1m \
    --connections 2 --direction s2c --size 1048576 --kind binary -- \
    'r["messages_received"] >= 20' 'r["mb_per_sec"] > 10' 'r["messages_sent"] == 0'
  # Idle: 200 connections, a ping every 0.5 s each, is 800 pings in 2 s.
  scenario "$label" "$target" idle-200-pings \
    --connections 200 --idle --ping-interval 0.5 -- \
    'r["pings_sent"] >= 700' 'r["pongs_received"] >= r["pings_sent"] - 5' \
    'r["messages_sent"] == 0 and r["messages_received"] == 0'
}

tls_args=()
run_all direct "$server"

if [ -n "$wsinspect" ]; then
  "$wsinspect" proxy --listen 127.0.0.1:0 --upstream "$server" --log-format json \
    >"$work/proxy.log" 2>"$work/proxy.err" &
  pids+=($!)
  proxy=$(wait_for "$work/proxy.log" '.*"event":"listening","address":"(127\.0\.0\.1:[0-9]+)".*')
  echo "selftest: wsinspect proxy on $proxy"
  run_all wsinspect "$proxy"
  # The proxy relayed every connection and saw no rule broken.
  if grep -q '"event":"violation"' "$work/proxy.log"; then
    echo "selftest: wsinspect reported violations:" >&2
    grep '"event":"violation"' "$work/proxy.log" | head -n 5 >&2
    exit 1
  fi
  echo "selftest: wsinspect: $(grep -c '"event":"conn_open"' "$work/proxy.log") connections, no violations"
fi

# The same over TLS: a test CA and a P-256 leaf for localhost and 127.0.0.1.
if command -v openssl >/dev/null; then
  p256=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
  openssl req -x509 "${p256[@]}" -keyout "$work/ca.key" -out "$work/ca.pem" -days 1 \
    -subj "/CN=wsload selftest CA" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign" 2>/dev/null
  openssl req "${p256[@]}" -keyout "$work/leaf.key" -out "$work/leaf.csr" -subj "/CN=localhost" \
    2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$work/leaf.ext"
  openssl x509 -req -in "$work/leaf.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
    -CAcreateserial -out "$work/leaf.pem" -days 1 -extfile "$work/leaf.ext" 2>/dev/null
  "$wsload" server --listen 127.0.0.1:0 --tls --tls-cert "$work/leaf.pem" \
    --tls-key "$work/leaf.key" >"$work/tls-server.out" 2>"$work/tls-server.err" &
  pids+=($!)
  tls_server=$(wait_for "$work/tls-server.out" '^listening (127\.0\.0\.1:[0-9]+)$')
  echo "selftest: wsload TLS server on $tls_server"
  tls_args=(--tls --tls-ca "$work/ca.pem" --tls-name localhost)
  run_all direct-tls "$tls_server"
  check "direct-tls negotiated" "$work/direct-tls-idle-200-pings.json" \
    'r["tls"] == "TLSv1.3 TLS_AES_128_GCM_SHA256 X25519"'
  # A certificate that does not chain to the CA is refused.
  if "$wsload" client --target "$tls_server" --duration 1 --json --tls --tls-ca "$work/leaf.pem" \
      >"$work/tls-bad-ca.json" 2>/dev/null; then
    echo "selftest: a client trusting the wrong CA connected" >&2
    exit 1
  fi
  check "direct-tls wrong CA refused" "$work/tls-bad-ca.json" \
    'r["errors"]["handshake_failures"] == 1' '"certificate verify failed" in r["first_error"]'
  if [ -n "$wsinspect" ]; then
    "$wsinspect" proxy --listen 127.0.0.1:0 --upstream "wss://$tls_server" --upstream-sni localhost \
      --upstream-ca "$work/ca.pem" --tls-cert "$work/leaf.pem" --tls-key "$work/leaf.key" \
      --log-format json >"$work/tls-proxy.log" 2>"$work/tls-proxy.err" &
    pids+=($!)
    tls_proxy=$(wait_for "$work/tls-proxy.log" \
      '.*"event":"listening","address":"(127\.0\.0\.1:[0-9]+)".*')
    echo "selftest: wsinspect TLS proxy on $tls_proxy"
    run_all wsinspect-tls "$tls_proxy"
    if grep -q '"event":"violation"\|"event":"tls_error"' "$work/tls-proxy.log"; then
      echo "selftest: wsinspect over TLS reported violations or TLS errors:" >&2
      grep '"event":"violation"\|"event":"tls_error"' "$work/tls-proxy.log" | head -n 5 >&2
      exit 1
    fi
  fi
else
  echo "selftest: no openssl CLI: TLS not tested"
fi
echo "selftest: all passed"
