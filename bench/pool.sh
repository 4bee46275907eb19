#!/usr/bin/env bash
# pool.sh: one export of a pool of ten projects against ten separate
# exports of the same projects (issue 14 §3: a platform team exports 10-30
# projects at once; resolution and downloads should be shared).
#
# The pool: bench/k8sproject and the nine projects under bench/pool/, which
# require popular modules at neighbouring versions (gin 1.10 and 1.12,
# client-go 0.36 and 0.37, grpc 1.84 and 1.85, ...), so that their graphs
# overlap the way a platform team's do.
#
# Each export starts from a fresh scratch directory (the default), as a
# nightly job does. Rounds are interleaved (pool first, then separate; then
# the other way round) because the machine is noisy; medians with every run.
# Reports: wall time and CPU time (user+system of modferry and the go
# commands it runs: on a busy machine steadier than wall time), bundle
# sizes, and where the time went (the phases of `export --json`: resolve =
# the go command's runs and their downloads).
#
# Env: RUNS (default 2); BASELINE=REV (a git revision) adds a third
# column, the pool exported by modferry built at REV, in the same rounds
# (to show what a change to export gives); ALIGNED=1 first aligns copies
# of the projects with `modferry align --write` (each module at the
# highest version any project selects, as a platform team does before it
# exports a pool) and measures those. Needs jq. Everything lands under
# bench/_out/pool.
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$BENCH")
OUT=$BENCH/_out/pool
RUNS=${RUNS:-2}
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"
command -v jq >/dev/null || { echo "pool.sh needs jq (apt-get install jq)" >&2; exit 1; }
mkdir -p "$OUT"
cd "$OUT"

PROJECTS=("$BENCH/k8sproject")
for d in "$BENCH"/pool/p*/; do PROJECTS+=("${d%/}"); done

echo "# environment"
echo "date: $(date -u +%FT%TZ)"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') ($(nproc) cores)"
echo "kernel: $(uname -r)"
echo "go: $(go version)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "projects: ${#PROJECTS[@]}"
echo

build_modferry "$OUT"
build_tool "$OUT" maxrss
MF=$OUT/modferry
if [[ -n ${BASELINE:-} ]]; then
	build_modferry "$OUT" "$BASELINE"
	echo "baseline: modferry at $(git -C "$ROOT" rev-parse --short "$BASELINE")"
fi
[[ -f key ]] || "$MF" keygen -o key --no-passphrase >/dev/null

if [[ ${ALIGNED:-} == 1 ]]; then
	echo "== aligning copies of the projects (modferry align --write)" >&2
	rm -rf aligned
	mkdir aligned
	COPIES=()
	for p in "${PROJECTS[@]}"; do
		cp -r "$p" "aligned/$(basename "$p")"
		COPIES+=("$OUT/aligned/$(basename "$p")")
	done
	before=$("$MF" align --json "${COPIES[@]}" | jq '.skews | length')
	"$MF" align --write "${COPIES[@]}" >aligned/align.log 2>&1 || true
	after=$("$MF" align --json "${COPIES[@]}" | jq '.skews | length')
	echo "aligned: modules selected at different versions across the projects: $before before, $after after 'modferry align --write'"
	PROJECTS=("${COPIES[@]}")
fi

# timed OUT command...: runs the command under maxrss; leaves "WALL CPU" in OUT
timed() {
	local file=$1
	shift
	MAXRSS_CPU=1 "$OUT/maxrss" "$file.rss" "$@"
	awk '{print $1, $4}' "$file.rss" >"$file"
}

# pool RUN [BINARY]: one export of all projects; prints "WALL CPU BYTES"
pool() {
	timed "pool-$1.time" "${2:-$MF}" export --json --sign-key key -o "pool-$1.tar.zst" "${PROJECTS[@]}" >"pool-$1.json"
	echo "$(cat "pool-$1.time") $(jq .bytes "pool-$1.json")"
}

# separate RUN: one export per project, one after the other; prints
# "WALL CPU BYTES" (sums)
separate() {
	local wall=0 cpu=0 bytes=0 i=0 w c
	for p in "${PROJECTS[@]}"; do
		i=$((i + 1))
		timed "sep-$1-$i.time" "$MF" export --json --sign-key key -o "sep-$1-$i.tar.zst" "$p" >"sep-$1-$i.json"
		read -r w c <"sep-$1-$i.time"
		wall=$(awk -v a="$wall" -v b="$w" 'BEGIN {print a + b}')
		cpu=$(awk -v a="$cpu" -v b="$c" 'BEGIN {print a + b}')
		bytes=$((bytes + $(jq .bytes "sep-$1-$i.json")))
	done
	echo "$wall $cpu $bytes"
}



echo "== warming the upstream (one pool export, not counted)" >&2
pool warm >/dev/null
rm -f pool-warm.tar.zst

declare -a PT PC PB ST SC SB BT BC LOADS
for r in $(seq "$RUNS"); do
	if [[ -n ${BASELINE:-} ]]; then
		read -r bt bc _ < <(pool "base-$r" "$OUT/modferry.base")
		BT+=("$bt") BC+=("$bc")
		echo "round $r: baseline pool ${bt} s (cpu ${bc} s)" >&2
	fi
	if ((r % 2)); then
		echo "== round $r: pool, then separate" >&2
		read -r pt pc pb < <(pool "$r")
		read -r st sc sb < <(separate "$r")
	else
		echo "== round $r: separate, then pool" >&2
		read -r st sc sb < <(separate "$r")
		read -r pt pc pb < <(pool "$r")
	fi
	PT+=("$pt") PC+=("$pc") PB+=("$pb") ST+=("$st") SC+=("$sc") SB+=("$sb")
	LOADS+=("$(cut -d' ' -f1 /proc/loadavg)")
	echo "round $r: pool ${pt} s (cpu ${pc} s) ${pb} B; separate ${st} s (cpu ${sc} s) ${sb} B (load ${LOADS[-1]})" >&2
done

pt=$(med "${PT[@]}")
st=$(med "${ST[@]}")
pc=$(med "${PC[@]}")
sc=$(med "${SC[@]}")
echo "# results ($RUNS interleaved rounds; medians, every run in brackets; load average after each round: ${LOADS[*]})"
echo
echo "| | pool (1 export) | separate (${#PROJECTS[@]} exports) | pool / separate |"
echo "|---|---|---|---|"
echo "| wall time, s | $pt [${PT[*]}] | $st [${ST[*]}] | $(ratio "$pt" "$st" 3) |"
echo "| CPU time, s | $pc [${PC[*]}] | $sc [${SC[*]}] | $(ratio "$pc" "$sc" 3) |"
echo "| bundle bytes | ${PB[0]} | ${SB[0]} | $(ratio "${PB[0]}" "${SB[0]}" 3) |"
echo "| module versions | $(jq .modules pool-1.json) | $(cat sep-1-*.json | jq -s 'map(.modules) | add') | |"
if [[ -n ${BASELINE:-} ]]; then
	bt=$(med "${BT[@]}")
	bc=$(med "${BC[@]}")
	echo
	echo "| | pool, this build | pool, baseline $BASELINE | this / baseline |"
	echo "|---|---|---|---|"
	echo "| wall time, s | $pt | $bt [${BT[*]}] | $(ratio "$pt" "$bt" 3) |"
	echo "| CPU time, s | $pc | $bc [${BC[*]}] | $(ratio "$pc" "$bc" 3) |"
fi
echo
echo "Where the time went (seconds per phase of export --json, round 1):"
echo
echo "| phase | pool | separate (sum) |"
echo "|---|---|---|"
for ph in resolve toolchains hash sumdb sbom write; do
	echo "| $ph | $(jq ".phases.$ph // 0 | . * 100 | round / 100" pool-1.json) | $(cat sep-1-*.json | jq -s "map(.phases.$ph // 0) | add | . * 100 | round / 100") |"
done
echo
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
