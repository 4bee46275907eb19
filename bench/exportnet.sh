#!/usr/bin/env bash
# exportnet.sh: modferry export of bench/k8sproject (or ARGS) from the
# network, as a nightly job runs it (a fresh scratch directory, every file
# fetched from the default GOPROXY and its checksum database), by this
# checkout's modferry and by one built from $BASE, in interleaved rounds.
#
# The network is part of every figure, so the rounds alternate which
# build goes first and the script reports medians with every run, the
# ratio round by round, and the phases of `export --json` (resolve = the
# go command's runs and their downloads; sumdb = the checksum-database
# proofs). CPU = user + system time of modferry and the go commands it ran.
#
# Env: RUNS (default 3), BASE (git revision, default main), ARGS (export
# arguments, default bench/k8sproject), COUNT=1 (the exports go through
# bench/countproxy, in front of the default GOPROXY, which counts the
# checksum-database lookups and tiles each export asks for and how many
# of them repeat an earlier request; the extra hop is in the times then).
# Everything lands under bench/_out/exportnet.
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$BENCH")
OUT=$BENCH/_out/exportnet
RUNS=${RUNS:-3}
BASE=${BASE:-main}
ARGS=${ARGS:-$BENCH/k8sproject}
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"
command -v jq >/dev/null || die "needs jq (apt-get install jq)"
mkdir -p "$OUT"
cd "$OUT"

build_pair "$OUT" "$BASE"
build_tool "$OUT" maxrss
COUNT=${COUNT:-}
UPSTREAM=()
if [[ -n $COUNT ]]; then
	command -v curl >/dev/null || die "COUNT=1 needs curl"
	build_tool "$OUT" countproxy
	COUNT_ADDR=127.0.0.1:${COUNT_PORT:-18181}
	port_busy "$COUNT_ADDR" && die "$COUNT_ADDR is already in use; set COUNT_PORT"
	"$OUT/countproxy" "$COUNT_ADDR" "$(go env GOPROXY | cut -d, -f1)" 2>countproxy.log &
	COUNT_PID=$!
	trap 'kill "$COUNT_PID" 2>/dev/null || true' EXIT
	PIDS=("$COUNT_PID")
	wait_http "http://$COUNT_ADDR/_counts" "$COUNT_PID" countproxy countproxy.log
	UPSTREAM=(--upstream "http://$COUNT_ADDR")
fi
BASEREV=$(git -C "$ROOT" rev-parse --short "$BASE")
NEWREV=$(git -C "$ROOT" rev-parse --short HEAD)
[[ -f key ]] || "$OUT/modferry" keygen -o key --no-passphrase >/dev/null

echo "# environment"
echo "date: $(date -u +%FT%TZ)"
echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1) ($(nproc) CPUs)"
echo "kernel: $(uname -r); $(go version | cut -d' ' -f3-); GOMAXPROCS=${GOMAXPROCS:-unset}"
echo "GOPROXY: the default of this machine's go env${COUNT:+, through bench/countproxy}"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "arguments: ${ARGS//$BENCH\//bench/}"
echo "builds: new = this checkout ($NEWREV + working tree), base = $BASE ($BASEREV); $RUNS interleaved rounds"
echo

# run WHICH ROUND: one export; appends "WALL CPU RESOLVE SUMDB MODULES
# [LOOKUPS TILES REPEATS]" to res-WHICH.
run() {
	local which=$1 r=$2 args counts=""
	read -ra args <<<"$ARGS"
	rm -f b.tar.zst
	[[ -z $COUNT ]] || curl -fsS "http://$COUNT_ADDR/_reset"
	MAXRSS_CPU=1 "$OUT/maxrss" t "$(pair_bin "$OUT" "$which")" export --json --sign-key key -o b.tar.zst "${UPSTREAM[@]}" "${args[@]}" >summary.json 2>stderr ||
		{ cat stderr >&2; die "export by the $which build failed"; }
	local wall cpu
	read -r wall _ _ cpu <t
	read -r resolve sumdb mods < <(jq -r '"\(.phases.resolve * 100 | round / 100) \(.phases.sumdb * 100 | round / 100) \(.modules)"' summary.json)
	[[ -z $COUNT ]] || counts=$(curl -fsS "http://$COUNT_ADDR/_counts" | cut -d' ' -f1-3)
	echo "$wall $cpu $resolve $sumdb $mods $counts" >>"res-$which"
	printf '   round %d %-4s %6.1f s wall  %6.1f s CPU  resolve %5.1f s  sumdb %4.1f s  %d module versions%s\n' \
		"$r" "$which" "$wall" "$cpu" "$resolve" "$sumdb" "$mods" "${counts:+  sumdb lookups, tiles, repeats: $counts}" >&2
}

rm -f res-new res-base
for r in $(seq "$RUNS"); do
	log "round $r/$RUNS"
	if ((r % 2)); then order="base new"; else order="new base"; fi
	for which in $order; do run "$which" "$r"; done
done
rm -f b.tar.zst

col() { awk -v c="$2" '{print $c}' "$1"; }
colmed() { col "$1" "$2" | median; }
runs() { col "$1" "$2" | paste -sd' ' -; }
echo "# results (medians, every run in brackets in round order; load average at end: $(cut -d' ' -f1-3 /proc/loadavg))"
echo
echo "| | base $BASEREV | new | new / base |"
echo "|---|---|---|---|"
for c in "1 wall time, s" "2 CPU time, s" "3 resolve phase, s" "4 sumdb phase, s"; do
	n=${c%% *} name=${c#* }
	b=$(colmed res-base "$n") w=$(colmed res-new "$n")
	echo "| $name | $b [$(runs res-base "$n")] | $w [$(runs res-new "$n")] | $(awk -v a="$w" -v b="$b" 'BEGIN {printf "%.3f", a / b}') |"
done
echo "| module versions | $(colmed res-base 5) | $(colmed res-new 5) | |"
if [[ -n $COUNT ]]; then
	for c in "6 checksum-database lookups asked for" "7 checksum-database tiles asked for" "8 of them asked for again"; do
		n=${c%% *} name=${c#* }
		b=$(colmed res-base "$n") w=$(colmed res-new "$n")
		echo "| $name | $b [$(runs res-base "$n")] | $w [$(runs res-new "$n")] | $(ratio "$w" "$b" 3) |"
	done
fi
echo
echo "wall time new / base, round by round: $(paste -d' ' <(col res-new 1) <(col res-base 1) | awk '{printf "%s%.3f", (NR > 1 ? " " : ""), $1 / $2}')"
