# Shared by the bench scripts: build lacquer (Release) once, and small helpers.
# Usage: source "$(dirname "$0")/common.sh"
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build-bench}
"$ROOT/scripts/deps" --bench
if [ ! -x "$BUILD/lacquer" ] || [ "${REBUILD:-1}" = 1 ]; then
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DLQ_TESTS=OFF >/dev/null
  cmake --build "$BUILD" -j"$(nproc)" >/dev/null
fi
LACQUER=$BUILD/lacquer
export LACQUER_PRESET_DIR=$ROOT/presets
WORK=${WORK:-$(mktemp -d /tmp/lacquer-bench.XXXXXX)}
trap 'rm -rf "$WORK"' EXIT

# run_timed OUTVAR_PREFIX cmd...: wall seconds, CPU seconds (user + sys) and peak RSS
# (KiB) of a command: PREFIX_s, PREFIX_cpu, PREFIX_kb
run_timed() {
  local prefix=$1; shift
  local tf; tf=$(mktemp)
  local t0 t1
  t0=$(date +%s.%N)
  local rc=0
  /usr/bin/time -f $'%M\ncpu %U %S' -o "$tf" "$@" >/dev/null 2>"$tf.err" || rc=$?
  # lacquer exits 1 when an export was written but missed a target: still a full run
  if [ "$rc" -gt 1 ]; then cat "$tf.err" >&2; return 1; fi
  t1=$(date +%s.%N)
  printf -v "${prefix}_s" '%s' "$(echo "$t1 - $t0" | bc -l)"
  printf -v "${prefix}_kb" '%s' "$(grep -E '^[0-9]+$' "$tf" | tail -n1)"
  printf -v "${prefix}_cpu" '%s' "$(awk '/^cpu /{print $2 + $3}' "$tf" | tail -n1)"
  rm -f "$tf" "$tf.err"
}
fmt() { printf '%.2f' "$1"; }
