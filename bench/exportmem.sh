#!/usr/bin/env bash
# exportmem.sh: peak memory of the modferry export process for exports of
# growing size, this checkout against a baseline commit (default: main),
# built and run in the same script.
#
# Each size exports real module arguments (go install style) or a project
# directory. The figure is the peak resident set of the modferry process
# itself, not of the go commands it runs: VmHWM and the peak of RssAnon
# (its own heap and stacks, without the executable's file-backed pages)
# from /proc/PID/status, sampled every 10 ms by bench/maxrss. Every size is exported
# once first to fill its --work-dir (the downloads), so that the measured
# rounds do not depend on the network; both binaries then share that
# work dir. Rounds are interleaved (baseline and new alternate first).
#
# Env: ROUNDS (default 2), BASE (git revision of the baseline, default
# main), SIZES (names to run, default "small medium large").
# Everything lands under bench/_out/exportmem.
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$BENCH")
OUT=$BENCH/_out/exportmem
ROUNDS=${ROUNDS:-2}
BASE=${BASE:-main}
SIZES=${SIZES:-small medium large}
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"
mkdir -p "$OUT"
cd "$OUT"

# size name -> export arguments (each needs at most go 1.26; the
# sizes are ~160, ~850 and ~1,160 module versions).
declare -A ARGS=(
	[small]="$BENCH/k8sproject"
	[medium]="github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0"
	[large]="github.com/goreleaser/goreleaser/v2@v2.13.0"
)

build_pair "$OUT" "$BASE"
build_tool "$OUT" maxrss
BASEREV=$(git -C "$ROOT" rev-parse --short "$BASE")
NEWREV=$(git -C "$ROOT" rev-parse --short HEAD)

TMP=$OUT/tmp
rm -rf "$TMP"
mkdir -p "$TMP"
cleanup() { chmod -R u+w "$TMP" 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT

# run BIN SIZE: one export, appends "SECONDS SELF_KB MODULES ANON_KB" to $TMP/res-BIN-SIZE
run() {
	local bin=$1 size=$2 args
	read -ra args <<< "${ARGS[$size]}"
	MAXRSS_ANON=1 "$OUT/maxrss" "$TMP/t" "$(pair_bin "$OUT" "$bin")" export --unsigned --json --work-dir "$OUT/work-$size" \
		-o "$TMP/b.tar.zst" "${args[@]}" > "$TMP/summary.json" 2> "$TMP/stderr" ||
		{ cat "$TMP/stderr" >&2; exit 1; }
	local s self mods anon
	read -r s _ self anon < "$TMP/t"
	mods=$(sed -n 's/.*"modules": *\([0-9]*\).*/\1/p' "$TMP/summary.json" | head -1)
	echo "$s $self $mods $anon" >> "$TMP/res-$bin-$size"
	printf '   %-4s %-6s %4d module versions  %6.1f s  VmHWM %4d MB  RssAnon %4d MB\n' "$bin" "$size" "$mods" "$s" $((self / 1024)) $((anon / 1024)) >&2
	rm -f "$TMP/b.tar.zst"
}

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
for size in $SIZES; do
	echo "== warming $size (fills the work dir; not measured)" >&2
	"$OUT/modferry" export --unsigned -o "$TMP/b.tar.zst" --work-dir "$OUT/work-$size" ${ARGS[$size]} >/dev/null
	rm -f "$TMP/b.tar.zst"
done
for r in $(seq "$ROUNDS"); do
	echo "== round $r/$ROUNDS" >&2
	for size in $SIZES; do
		if (( r % 2 )); then order="base new"; else order="new base"; fi
		for bin in $order; do run "$bin" "$size"; done
	done
done
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

# median and range of column $2 of file $1, divided by $3
stat_col() {
	awk -v c="$2" -v d="$3" '{print $c / d}' "$1" | sort -n | awk '
		{ v[NR] = $1 }
		END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		      printf "%.0f (%.0f–%.0f)", m, v[1], v[NR] }'
}
runs_col() { awk -v c="$2" -v d="$3" '{printf "%s%.0f", (NR > 1 ? ", " : ""), $c / d}' "$1"; }

echo
echo "## modferry export: peak RSS of the modferry process"
echo
echo "- CPU: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1) ($(nproc) CPUs)"
echo "- kernel: $(uname -r); $(go version | cut -d' ' -f3-); GOMAXPROCS=${GOMAXPROCS:-$(nproc)}"
echo "- load average before: $LOAD0; after: $LOAD1"
echo "- baseline $BASE ($BASEREV), new ($NEWREV); $ROUNDS interleaved rounds"
echo
echo "Peak MB (MiB), median (range):"
echo
echo "| size | arguments | module versions | baseline VmHWM | new VmHWM | baseline RssAnon | new RssAnon | baseline s | new s |"
echo "|---|---|---|---|---|---|---|---|---|"
for size in $SIZES; do
	mods=$(awk '{print $3}' "$TMP/res-new-$size" | sort -n | tail -1)
	echo "| $size | \`${ARGS[$size]#"$BENCH/"}\` | $mods | $(stat_col "$TMP/res-base-$size" 2 1024) | $(stat_col "$TMP/res-new-$size" 2 1024) | $(stat_col "$TMP/res-base-$size" 4 1024) | $(stat_col "$TMP/res-new-$size" 4 1024) | $(stat_col "$TMP/res-base-$size" 1 1) | $(stat_col "$TMP/res-new-$size" 1 1) |"
done
echo
echo "Individual runs in run order, VmHWM / RssAnon MB (baseline; new):"
for size in $SIZES; do
	echo "- $size: $(runs_col "$TMP/res-base-$size" 2 1024) / $(runs_col "$TMP/res-base-$size" 4 1024); $(runs_col "$TMP/res-new-$size" 2 1024) / $(runs_col "$TMP/res-new-$size" 4 1024)"
done
