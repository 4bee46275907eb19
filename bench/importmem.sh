#!/usr/bin/env bash
# importmem.sh: peak memory and CPU of modferry import, this checkout
# against a build of $BASE, in interleaved rounds, for two bundles:
#
#   bench    the bench bundle (bench/k8sproject, 164 module versions;
#            made by bench/import.sh, run it first)
#   synth    a bundle of 10,000 synthetic module versions (30,000 files,
#            a 7 MB manifest): bench/synthcache writes a module cache,
#            'import --cache-dir' makes a store of it and 'export
#            --from-store' a bundle (made once, kept under bench/_out)
#
# Each import goes into a directory of its own, nothing is deleted until
# the end (see bench/import.sh on ext4 and deleted inodes). Figures: peak
# RSS of the modferry process (VmHWM, sampled by bench/maxrss), CPU
# seconds (user + system) and wall seconds; medians with every run.
#
# Env: RUNS (default 3), BASE (git revision, default main), SYNTH_MODULES
# (default 1000; 10 versions each).
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$BENCH")
OUT=$BENCH/_out/importmem
RUNS=${RUNS:-3}
BASE=${BASE:-main}
SYNTH_MODULES=${SYNTH_MODULES:-1000}
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"
KEY=$BENCH/_out/import/key
[[ -f $BENCH/_out/import/b.tar.zst && -f $KEY ]] || die "run bench/import.sh first (it makes the bench bundle and its key)"
mkdir -p "$OUT"
cd "$OUT"

build_pair "$OUT" "$BASE"
build_tool "$OUT" maxrss
build_tool "$OUT" synthcache
BASEREV=$(git -C "$ROOT" rev-parse --short "$BASE")
NEWREV=$(git -C "$ROOT" rev-parse --short HEAD)

SYNTH=$OUT/synth-$SYNTH_MODULES.tar.zst
if [[ ! -f $SYNTH ]]; then
	log "making the synthetic bundle ($SYNTH_MODULES modules x 10 versions; once)"
	rm -rf "$OUT/synth-src" "$OUT/synth-store"
	"$OUT/synthcache" -requires "$OUT/synth-src" "$SYNTH_MODULES" 10 >&2
	"$OUT/modferry" import --store "$OUT/synth-store" --cache-dir "$OUT/synth-src" >/dev/null
	"$OUT/modferry" export --from-store "$OUT/synth-store" --sign-key "$KEY" -o "$SYNTH.tmp" >/dev/null
	mv "$SYNTH.tmp" "$SYNTH"
	rm -rf "$OUT/synth-src" "$OUT/synth-store"
fi
declare -A BUNDLES=([bench]=$BENCH/_out/import/b.tar.zst [synth]=$SYNTH)

RUNDIR=$(mktemp -d "$OUT/runs.XXXXXX")
trap 'rm -rf "$RUNDIR"' EXIT
echo "# environment"
echo "date: $(date -u +%FT%TZ)"
echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1) ($(nproc) CPUs)"
echo "kernel: $(uname -r); $(go version | cut -d' ' -f3-); GOGC=${GOGC:-unset} GOMEMLIMIT=${GOMEMLIMIT:-unset}"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "builds: new = this checkout ($NEWREV + working tree), base = $BASE ($BASEREV); $RUNS interleaved rounds"
echo

for r in $(seq "$RUNS"); do
	log "round $r/$RUNS"
	if ((r % 2)); then order="base new"; else order="new base"; fi
	for b in bench synth; do
		for which in $order; do
			d=$RUNDIR/$b-$which-$r
			MAXRSS_CPU=1 "$OUT/maxrss" "$RUNDIR/t" "$(pair_bin "$OUT" "$which")" import --pubkey "$KEY.pub" --store "$d" "${BUNDLES[$b]}" >/dev/null
			read -r wall _ self cpu <"$RUNDIR/t"
			echo "$((self / 1024)) $cpu $wall" >>"$RUNDIR/res-$b-$which"
			printf '   round %d %-5s %-4s peak %4d MB  %5.2f CPU-s  %5.2f s\n' "$r" "$b" "$which" $((self / 1024)) "$cpu" "$wall" >&2
		done
	done
done

col() { awk -v c="$2" '{print $c}' "$1"; }
cell() { echo "$(col "$1" "$2" | median) [$(col "$1" "$2" | paste -sd' ' -)]"; }
echo "# results (medians, every run in brackets in round order; load average at end: $(cut -d' ' -f1-3 /proc/loadavg))"
echo
echo "| bundle | figure | base $BASEREV | new | new / base |"
echo "|---|---|---|---|---|"
for b in bench synth; do
	for c in "1 peak RSS, MB" "2 CPU, s" "3 wall, s"; do
		n=${c%% *} name=${c#* }
		bm=$(col "$RUNDIR/res-$b-base" "$n" | median) nm=$(col "$RUNDIR/res-$b-new" "$n" | median)
		echo "| $b | $name | $(cell "$RUNDIR/res-$b-base" "$n") | $(cell "$RUNDIR/res-$b-new" "$n") | $(awk -v a="$nm" -v b="$bm" 'BEGIN {printf "%.3f", a / b}') |"
	done
done
