#!/usr/bin/env bash
# Builds the Dapr sidecar (daprd) and the Dapr CLI from the Go module proxy
# into a cache folder outside the repository (`dapr init` cannot work here: it
# downloads from GitHub).
#
# Usage: .ci/tools.sh [--print-path | --check | --force | --help]
#   (none)        build if needed, then print DAPR_RUNTIME_PATH=<dir>, DAPRD=..., DAPR_CLI=...
#   --print-path  print <dir> only (no build, no check); other scripts use it
#   --check       exit 0 if the tools are built and current, 1 otherwise (no build)
#   --force       rebuild even if the stamp matches
#
# Environment:
#   DAPR_VERSION      daprd version (default 1.16.0)
#   DAPR_CLI_VERSION  Dapr CLI version (default 1.12.0)
#   TOOLS_DIR         output folder (default
#                     ${XDG_CACHE_HOME:-$HOME/.cache}/enviromon/tools/dapr-$DAPR_VERSION)
#   GO                go command (default go)
#
# Layout of <dir> (what the CLI expects as its runtime path):
#   <dir>/.dapr/bin/daprd      sidecar, built with -tags allcomponents
#   <dir>/.dapr/config.yaml    minimal Configuration (daprd is fatal without one)
#   <dir>/.dapr/components/    empty default resources folder (the CLI needs it to exist)
#   <dir>/bin/dapr             CLI
#   <dir>/.stamp               versions + hash of this script; a mismatch rebuilds
# Use:  DAPR_RUNTIME_PATH=<dir> <dir>/bin/dapr run -f dapr.yaml
#   or  <dir>/.dapr/bin/daprd --config <dir>/.dapr/config.yaml ...
#
# Recipe (see DAPR-NOTES.md): `go install ...@v` is refused because both
# modules have replace directives, so each is built from a throw-away module
# whose go.mod is the upstream go.mod (replaces kept) with the module line
# renamed and the upstream module itself required. For Go >= 1.26, daprd's
# indirect github.com/choleraehyq/pid must be >= v0.0.24 (v0.0.20 fails to
# assemble). The Go build cache is kept, so later rebuilds are faster.
set -euo pipefail

DAPR_VERSION="${DAPR_VERSION:-1.16.0}"
DAPR_CLI_VERSION="${DAPR_CLI_VERSION:-1.12.0}"
DAPR_VERSION="${DAPR_VERSION#v}"
DAPR_CLI_VERSION="${DAPR_CLI_VERSION#v}"
GO="${GO:-go}"
PID_MIN=v0.0.24

default_dir() {
  local cache="${XDG_CACHE_HOME:-}"
  if [ -z "$cache" ]; then
    [ -n "${HOME:-}" ] || { echo "tools.sh: neither XDG_CACHE_HOME nor HOME is set; set TOOLS_DIR" >&2; exit 2; }
    cache="$HOME/.cache"
  fi
  printf '%s/enviromon/tools/dapr-%s' "$cache" "$DAPR_VERSION"
}
DIR="${TOOLS_DIR:-$(default_dir)}"
case "$DIR" in /*) ;; *) DIR="$PWD/$DIR" ;; esac
DIR="${DIR%/}"

DAPRD="$DIR/.dapr/bin/daprd"
CLI="$DIR/bin/dapr"
CONFIG="$DIR/.dapr/config.yaml"
STAMP="$DIR/.stamp"

mode=build
for arg in "$@"; do
  case "$arg" in
    --print-path) mode=print ;;
    --check) mode=check ;;
    --force) mode=force ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "tools.sh: unknown argument: $arg (see --help)" >&2; exit 2 ;;
  esac
done

if [ "$mode" = print ]; then
  printf '%s\n' "$DIR"
  exit 0
fi

SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
sha() { sha256sum "$1" | cut -d' ' -f1; }
RECIPE="$(sha "$SELF")"
want_stamp() {
  printf 'dapr_version=%s\ndapr_cli_version=%s\nrecipe_sha256=%s\n' \
    "$DAPR_VERSION" "$DAPR_CLI_VERSION" "$RECIPE"
}

log() { printf '[tools %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# current: the stamp matches and both binaries run and report the right version.
current() {
  [ -f "$STAMP" ] && [ -x "$DAPRD" ] && [ -x "$CLI" ] || return 1
  [ "$(grep -v '^#' "$STAMP")" = "$(want_stamp)" ] || return 1
  local v
  v="$("$DAPRD" --version </dev/null 2>/dev/null)" || return 1
  [ "$(printf '%s' "$v" | head -n1 | tr -d '[:space:]')" = "$DAPR_VERSION" ] || return 1
  v="$(DAPR_RUNTIME_PATH="$DIR" "$CLI" --version </dev/null 2>/dev/null)" || return 1
  printf '%s\n' "$v" | grep -Eq "^CLI version: v?${DAPR_CLI_VERSION//./\\.}[[:space:]]*\$" || return 1
  printf '%s\n' "$v" | grep -Eq "^Runtime version: v?${DAPR_VERSION//./\\.}[[:space:]]*\$" || return 1
}

report() {
  echo "DAPR_RUNTIME_PATH=$DIR"
  echo "DAPRD=$DAPRD"
  echo "DAPR_CLI=$CLI"
}

# ensure_layout: the files the CLI expects under <dir>/.dapr besides daprd: the
# default config (daprd is fatal without --config) and the default resources
# folder (the CLI refuses to start when it does not exist and the run file has
# no resourcesPaths). The config is only written when missing, or always with
# the argument "rewrite" (after a build).
ensure_layout() {
  mkdir -p "$DIR/.dapr/components"
  if [ "${1:-}" != rewrite ] && [ -f "$CONFIG" ]; then return 0; fi
  cat >"$CONFIG.new.$$" <<'EOF'
# Minimal Dapr configuration (written by enviromon .ci/tools.sh): daprd is
# fatal without --config; the CLI defaults to <runtimePath>/.dapr/config.yaml.
apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: daprconfig
spec: {}
EOF
  mv -f "$CONFIG.new.$$" "$CONFIG"
}

if [ "$mode" = check ]; then
  current && exit 0 || exit 1
fi

# Fast path without the lock.
if [ "$mode" = build ] && current; then
  ensure_layout
  log "up to date: daprd $DAPR_VERSION, CLI $DAPR_CLI_VERSION in $DIR"
  report
  exit 0
fi

mkdir -p "$DIR"
# One build at a time per folder (other checkouts may share the cache folder).
exec 9>"$DIR/.lock"
if command -v flock >/dev/null 2>&1; then
  if ! flock -n 9; then
    log "another build holds $DIR/.lock; waiting"
    flock 9
  fi
fi
if [ "$mode" = build ] && current; then
  ensure_layout
  log "up to date (built by another process): $DIR"
  report
  exit 0
fi

command -v "$GO" >/dev/null 2>&1 || { echo "tools.sh: '$GO' not found" >&2; exit 1; }
log "building daprd $DAPR_VERSION (allcomponents) and Dapr CLI $DAPR_CLI_VERSION into $DIR with $("$GO" env GOVERSION)"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/enviromon-tools.XXXXXX")"
trap 'rm -rf "$WORK" "$DAPRD.new" "$CLI.new"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Isolate from the caller's module/workspace settings; keep GOPROXY, GOCACHE,
# GOMODCACHE, GOSUMDB as configured. CGO off as in dapr's release builds.
export GOWORK=off GO111MODULE=on CGO_ENABLED=0
export GOFLAGS="-mod=mod -buildvcs=false"
unset GOOS GOARCH

# prepare NAME MODULE VERSION: throw-away module $WORK/NAME from MODULE@VERSION's
# own go.mod (replace directives kept) and go.sum. `go mod download` fetches the
# module through GOPROXY and checks it against the checksum database.
prepare() {
  local name="$1" mod="$2" ver="$3" dir json gomod src sum modsum
  dir="$WORK/$name"
  mkdir -p "$dir"
  json="$(cd "$WORK" && "$GO" mod download -json "$mod@$ver")" || {
    echo "tools.sh: go mod download $mod@$ver failed" >&2; return 1; }
  field() { printf '%s\n' "$json" | sed -n "s/^[[:space:]]*\"$1\": \"\(.*\)\",\{0,1\}\$/\1/p" | head -n1; }
  gomod="$(field GoMod)" src="$(field Dir)" sum="$(field Sum)" modsum="$(field GoModSum)"
  if ! { [ -f "$gomod" ] && [ -d "$src" ] && [ -n "$sum" ] && [ -n "$modsum" ]; }; then
    echo "tools.sh: unexpected 'go mod download -json' output for $mod@$ver:" >&2
    printf '%s\n' "$json" >&2; return 1
  fi
  cp "$gomod" "$dir/go.mod"
  chmod u+w "$dir/go.mod"
  if [ -f "$src/go.sum" ]; then cp "$src/go.sum" "$dir/go.sum"; chmod u+w "$dir/go.sum"; else : >"$dir/go.sum"; fi
  printf '%s %s %s\n%s %s/go.mod %s\n' "$mod" "$ver" "$sum" "$mod" "$ver" "$modsum" >>"$dir/go.sum"
  (cd "$dir" && "$GO" mod edit -module "enviromon.local/tools/$name" -require "$mod@$ver")
}

# raise_min DIR MODULE MIN: raise MODULE to MIN in DIR/go.mod if it is required lower
raise_min() {
  local dir="$1" mod="$2" min="$3" cur
  cur="$(awk -v m="$mod" '$1==m {print $2; exit} $1=="require" && $2==m {print $3; exit}' "$dir/go.mod")"
  [ -n "$cur" ] || return 0
  if [ "$(printf '%s\n%s\n' "$cur" "$min" | sort -V | head -n1)" = "$cur" ] && [ "$cur" != "$min" ]; then
    log "raising $mod $cur -> $min"
    (cd "$dir" && "$GO" mod edit -require "$mod@$min")
  fi
}

secs() { date +%s; }
t0=$(secs)

rm -f "$STAMP"
mkdir -p "$DIR/.dapr/bin" "$DIR/bin"

# --- daprd ------------------------------------------------------------------
t=$(secs)
prepare daprd github.com/dapr/dapr "v$DAPR_VERSION"
raise_min "$WORK/daprd" github.com/choleraehyq/pid "$PID_MIN"
log "daprd: go build (cold: ~5 min on 2 CPUs and ~3 GB of Go build cache; warm: ~10 s) ..."
(cd "$WORK/daprd" && "$GO" build -trimpath -tags allcomponents \
  -ldflags "-s -w -X github.com/dapr/dapr/pkg/buildinfo.version=$DAPR_VERSION -X github.com/dapr/dapr/pkg/buildinfo.gitversion=v$DAPR_VERSION -X github.com/dapr/kit/logger.DaprVersion=$DAPR_VERSION" \
  -o "$DAPRD.new" github.com/dapr/dapr/cmd/daprd)
mv -f "$DAPRD.new" "$DAPRD"
log "daprd built in $(( $(secs) - t ))s ($(du -h "$DAPRD" | cut -f1))"

# --- Dapr CLI ------------------------------------------------------------------
t=$(secs)
prepare cli github.com/dapr/cli "v$DAPR_CLI_VERSION"
log "dapr CLI: go build ..."
(cd "$WORK/cli" && "$GO" build -trimpath \
  -ldflags "-s -w -X main.version=$DAPR_CLI_VERSION -X main.apiVersion=1.0 -X github.com/dapr/cli/pkg/standalone.gitversion=v$DAPR_CLI_VERSION" \
  -o "$CLI.new" github.com/dapr/cli)
mv -f "$CLI.new" "$CLI"
log "dapr CLI built in $(( $(secs) - t ))s ($(du -h "$CLI" | cut -f1))"

# --- runtime layout ------------------------------------------------------------
ensure_layout rewrite

{ want_stamp; printf '# built %s with %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$("$GO" env GOVERSION)"; } >"$STAMP.new"
mv -f "$STAMP.new" "$STAMP"
if ! current; then
  rm -f "$STAMP"
  echo "tools.sh: built binaries fail the version check:" >&2
  "$DAPRD" --version >&2 || true
  DAPR_RUNTIME_PATH="$DIR" "$CLI" --version >&2 || true
  exit 1
fi
log "done in $(( $(secs) - t0 ))s"
report
