#!/usr/bin/env bash
# Tests for .ci/tools.sh. Without the tools built, only the cheap checks run;
# with them (`make tools`), also the stamp logic and a daprd smoke test: start
# daprd from the built path with one state.in-memory component, check health,
# metadata and a state save/get over HTTP, stop it.
# Usage: .ci/tools_test.sh [--build]   (--build: run .ci/tools.sh first)
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS=./.ci/tools.sh
fail=0
ok() { printf 'ok   %s\n' "$*"; }
bad() { printf 'FAIL %s\n' "$*"; fail=1; }
expect() { # expect NAME WANT GOT
  if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: want [$2], got [$3]"; fi
}

[ "${1:-}" = --build ] && "$TOOLS" </dev/null

tmp="$(mktemp -d)"
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# --- interface -----------------------------------------------------------------
expect "print-path default" "/x/enviromon/tools/dapr-1.16.0" \
  "$(env -u TOOLS_DIR -u DAPR_VERSION XDG_CACHE_HOME=/x "$TOOLS" --print-path)"
expect "print-path HOME" "/h/.cache/enviromon/tools/dapr-1.16.0" \
  "$(env -u TOOLS_DIR -u DAPR_VERSION -u XDG_CACHE_HOME HOME=/h "$TOOLS" --print-path)"
expect "print-path version" "/x/enviromon/tools/dapr-9.9.9" \
  "$(env -u TOOLS_DIR XDG_CACHE_HOME=/x DAPR_VERSION=v9.9.9 "$TOOLS" --print-path)"
expect "print-path TOOLS_DIR" "/t/d" "$(TOOLS_DIR=/t/d/ "$TOOLS" --print-path)"
expect "make tools -n uses the script" "1" \
  "$(make -n tools | grep -c 'DAPR_VERSION=.1.16.0. DAPR_CLI_VERSION=.1.12.0. .*tools.sh')"
rc=0; "$TOOLS" --bogus >/dev/null 2>&1 || rc=$?; expect "unknown argument rc" 2 "$rc"
"$TOOLS" --help | grep -q -- '--print-path' && ok "help" || bad "help"
rc=0; TOOLS_DIR="$tmp/none" "$TOOLS" --check || rc=$?; expect "check on empty dir" 1 "$rc"

DIR="$("$TOOLS" --print-path)"
if ! "$TOOLS" --check; then
  echo "skip: tools not built in $DIR (run make tools, or $0 --build)"
  exit "$fail"
fi
ok "tools current in $DIR"

# --- stamp logic (symlinks to the built binaries, no rebuild) ------------------
mkdir -p "$tmp/t/.dapr/bin" "$tmp/t/bin"
ln -s "$DIR/.dapr/bin/daprd" "$tmp/t/.dapr/bin/daprd"
ln -s "$DIR/bin/dapr" "$tmp/t/bin/dapr"
cp "$DIR/.stamp" "$tmp/t/.stamp"
rc=0; TOOLS_DIR="$tmp/t" "$TOOLS" --check || rc=$?; expect "check with a copy of the stamp" 0 "$rc"
sed -i 's/^recipe_sha256=.*/recipe_sha256=0/' "$tmp/t/.stamp"
rc=0; TOOLS_DIR="$tmp/t" "$TOOLS" --check || rc=$?; expect "check with another recipe hash" 1 "$rc"
cp "$DIR/.stamp" "$tmp/t/.stamp"
rc=0; TOOLS_DIR="$tmp/t" DAPR_CLI_VERSION=1.11.0 "$TOOLS" --check || rc=$?; expect "check with another CLI version" 1 "$rc"
out="$(TOOLS_DIR="$tmp/t" CI=true "$TOOLS" </dev/null 2>/dev/null)"
expect "up-to-date run prints the path" "DAPR_RUNTIME_PATH=$tmp/t" "$(printf '%s\n' "$out" | head -n1)"
[ -f "$tmp/t/.dapr/config.yaml" ] && [ -d "$tmp/t/.dapr/components" ] && ok "layout completed" || bad "layout completed"

# --- daprd smoke test ------------------------------------------------------------
expect "daprd --version" "1.16.0" "$("$DIR/.dapr/bin/daprd" --version)"
expect "dapr --version" "CLI version: 1.12.0 |Runtime version: 1.16.0" \
  "$(DAPR_RUNTIME_PATH="$DIR" "$DIR/bin/dapr" --version | paste -sd'|')"

mkdir -p "$tmp/res"
cat >"$tmp/res/state.yaml" <<'EOF'
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: statestore
spec:
  type: state.in-memory
  version: v1
  metadata: []
EOF
freeport() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()'; }
H=$(freeport); G=$(freeport); M=$(freeport)
"$DIR/.dapr/bin/daprd" --app-id probe --resources-path "$tmp/res" --config "$DIR/.dapr/config.yaml" \
  --dapr-http-port "$H" --dapr-grpc-port "$G" --metrics-port "$M" \
  --dapr-listen-addresses 127.0.0.1 --metrics-listen-address 127.0.0.1 \
  --placement-host-address "" --scheduler-host-address "" >"$tmp/daprd.log" 2>&1 </dev/null &
pid=$!
up=""
for _ in $(seq 1 100); do
  if curl -fsS -o /dev/null "http://127.0.0.1:$H/v1.0/healthz" 2>/dev/null; then up=1; break; fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$up" ]; then bad "daprd up"; cat "$tmp/daprd.log"; exit 1; fi
ok "daprd healthz"
expect "healthz/outbound" 204 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$H/v1.0/healthz/outbound")"
meta="$(curl -fsS "http://127.0.0.1:$H/v1.0/metadata")"
printf '%s' "$meta" | grep -q '"runtimeVersion":"1.16.0"' && ok "metadata version" || bad "metadata: $meta"
printf '%s' "$meta" | grep -q '"type":"state.in-memory"' && ok "metadata component" || bad "metadata: $meta"
expect "state save" 204 "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  -d '[{"key":"k1","value":{"t":21.5}}]' "http://127.0.0.1:$H/v1.0/state/statestore")"
expect "state get" '{"t":21.5}' "$(curl -fsS "http://127.0.0.1:$H/v1.0/state/statestore/k1")"
curl -fsS -D - -o /dev/null "http://127.0.0.1:$H/v1.0/state/statestore/k1" | grep -qi '^etag:' && ok "state etag" || bad "state etag"
sleep 1
n="$(grep -ci 'failed to connect to placement\|failed to connect to scheduler' "$tmp/daprd.log" || true)"
expect "no placement/scheduler connection errors" 0 "$n"
kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; pid=""
grep -q 'Daprd shutdown gracefully' "$tmp/daprd.log" && ok "daprd stopped gracefully" || bad "daprd stop"

exit "$fail"
