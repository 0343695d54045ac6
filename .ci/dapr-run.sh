#!/usr/bin/env bash
# `make dapr-run`: the app and the device simulator beside real daprd
# sidecars (`dapr run -f .`, see dapr.yaml). Starts mosquitto, Azurite and the
# local SignalR service when nothing listens on their ports yet, and stops
# what it started when the run ends (Ctrl-C).
set -euo pipefail
cd "$(dirname "$0")/.."

tools=$(.ci/tools.sh --print-path)
export DAPR_RUNTIME_PATH="$tools"
# Azurite's well-known development account key (public, not a secret).
export AZURITE_ACCOUNT_KEY="${AZURITE_ACCOUNT_KEY:-Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==}"
export SIGNALR_ACCESS_KEY="${SIGNALR_ACCESS_KEY:-$(head -c 32 /dev/urandom | base64)}"
# The MQTT binding's client id is {podName} (components/local/telemetry.yaml):
# daprd reads POD_NAME, which Kubernetes sets and the CLI passes through.
export POD_NAME="${POD_NAME:-enviromon-local}"

logs=data/dapr-run
mkdir -p "$logs"
started=()
cleanup() {
  for pid in "${started[@]}"; do
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
background() { # name port command...
  local name=$1 port=$2
  shift 2
  if listening "$port"; then
    echo "dapr-run: $name already listens on 127.0.0.1:$port; using it"
    return
  fi
  setsid "$@" >"$logs/$name.log" 2>&1 &
  started+=($!)
  for _ in $(seq 1 100); do
    listening "$port" && { echo "dapr-run: started $name on 127.0.0.1:$port (log $logs/$name.log)"; return; }
    sleep 0.1
  done
  echo "dapr-run: $name did not start; see $logs/$name.log" >&2
  exit 1
}

command -v mosquitto >/dev/null || { echo "dapr-run: mosquitto is missing: apt-get install mosquitto" >&2; exit 1; }
# The repository's broker configuration (the kind overlay's: no queue limit,
# persistence), moved to loopback and to the data folder.
mkdir -p "$logs/mosquitto"
sed -e 's|^listener 1883$|listener 1883 127.0.0.1|' \
    -e "s|^persistence_location .*|persistence_location $PWD/$logs/mosquitto/|" \
    deploy/overlays/local/mosquitto.conf >"$logs/mosquitto.conf"
grep -q '^listener 1883 127.0.0.1$' "$logs/mosquitto.conf" || { echo "dapr-run: deploy/overlays/local/mosquitto.conf has no 'listener 1883' line" >&2; exit 1; }
background mosquitto 1883 mosquitto -c "$logs/mosquitto.conf"
background azurite 10002 .bin/azurite/node_modules/.bin/azurite-table \
  --tableHost 127.0.0.1 --tablePort 10002 --location "$logs/azurite" --skipApiVersionCheck
if listening 8088; then
  echo "dapr-run: a SignalR service already listens on 127.0.0.1:8088; it must use SIGNALR_ACCESS_KEY"
else
  background signalr 8088 .bin/signalr-local -addr 127.0.0.1:8088 -access-key "$SIGNALR_ACCESS_KEY" \
    -allow-origins http://127.0.0.1:8080,http://localhost:8080
fi

echo "dapr-run: open http://127.0.0.1:8080/ once the app is up; Ctrl-C stops everything"
# The CLI runs in its own process group, so that stopping it also stops the
# daprd sidecars and apps it started, even if it is killed hard.
setsid "$tools/bin/dapr" run -f . &
dapr=$!
started+=("$dapr")
stop() {
  kill -INT -- "-$dapr" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$dapr" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL -- "-$dapr" 2>/dev/null || true
}
trap 'stop; exit 130' INT TERM
wait "$dapr"
