#!/usr/bin/env bash
# scale.sh: what grows with the store, and what must not (issue 14 section
# 5, issue 11 section 1 "Scale"). For stores of 1k, 10k and 100k module
# versions it measures, with this checkout's modferry:
#
#   - serve: start-up to the first 200 of a GOPROXY request, and to a
#     complete catalog index (the metadata API no longer answers partial);
#     idle RSS, and the peak RSS under the load below;
#   - GOPROXY: @v/list and @latest of a module with 100 versions, and its
#     .info, with wrk at 64 connections (requests/s and p99);
#   - catalog: search (GET /api/v1/modules?q=), module page (GET
#     /api/v1/modules/PATH), and the web catalog's / and module page, with
#     wrk at 16 connections over random modules (p99);
#   - inventory: time and size of 'modferry inventory';
#   - export --since: 'export --from-store' of 10 new module versions with
#     the store's inventory as --since;
#   - import: that 10-module bundle into the store;
#   - audit verify: a valid chained audit log of 10 entries per module
#     version (1M at 100k), written with package audit by bench/scaletool.
#
# The stores are synthetic (bench/synthcache, a Go port of the issue's
# synth-cache.py: valid zips, .mod, .info, .ziphash, upper-case paths; here
# with three requirements per go.mod): modules of 10 versions plus one
# module, github.com/Synth0/Big, of 100. Each is generated and imported
# with 'modferry import --cache-dir' once, and kept under
# ${XDG_CACHE_HOME:-~/.cache}/modferry/scale/ (keyed by the generator's
# source); every run works on a hard-linked copy (the store's files are
# never rewritten in place; the audit directory is copied).
#
# Env: SIZES (default "1000 10000 100000"), ROUNDS (default 1; sizes are
# interleaved within a round), DURATION (wrk, default 5s), PORT (default
# 38471), PREPARE_ONLY=1 (build the cached stores and stop).
# Results: bench/_out/scale/ (raw), bench/results/scale.md and
# bench/results/scale-*.svg.
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$BENCH")
OUT=${OUT:-$BENCH/_out/scale}
SIZES=${SIZES:-1000 10000 100000}
ROUNDS=${ROUNDS:-1}
DURATION=${DURATION:-5s}
PORT=${PORT:-38471}
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/modferry/scale
BIG=github.com/!synth0/!big # github.com/Synth0/Big, escaped
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"
mkdir -p "$OUT" "$CACHE"
exec 9> "$OUT/lock"
flock -n 9 || { echo "scale.sh: another run is using $OUT" >&2; exit 1; }

build_modferry "$OUT"
build_tool "$OUT" scaletool
build_tool "$OUT" synthcache
MF=$OUT/modferry
TOOL=$OUT/scaletool
KEY=$(sha256sum "$BENCH/synthcache/main.go" | cut -c1-12)
STORES=$CACHE/$KEY

# prepare N: the cached store of N module versions (and the 10 new ones).
prepare() {
	local n=$1 dir=$STORES/store-$n
	[[ -e $dir.done ]] && return
	local mods=$(((n - 100) / 10)) src=$STORES/cache-$n t0 t1 t2
	echo "== generating and importing a store of $n module versions (once; cached in $dir)" >&2
	rm -rf "$dir" "$src"
	mkdir -p "$STORES"
	t0=$(date +%s.%N)
	"$OUT/synthcache" -requires -big 100 "$src" "$mods" 10 >&2
	t1=$(date +%s.%N)
	"$MF" import --store "$dir" --cache-dir "$src" --json > "$STORES/import-$n.json"
	t2=$(date +%s.%N)
	rm -rf "$src"
	echo "$t0 $t1 $t2" | awk '{printf "%.1f %.1f\n", $2 - $1, $3 - $2}' > "$dir.done"
}
prepare_new() {
	local dir=$STORES/new10
	[[ -e $dir.done ]] && return
	rm -rf "$dir" "$dir-cache"
	"$OUT/synthcache" -prefix example.net/fresh "$dir-cache" 10 1 >&2
	"$MF" import --store "$dir" --cache-dir "$dir-cache" --json > /dev/null
	rm -rf "$dir-cache"
	touch "$dir.done"
}
prepare_new
for n in $SIZES; do prepare "$n"; done
[[ ${PREPARE_ONLY:-} == 1 ]] && exit 0

# The audit logs: 10 entries per module version.
for n in $SIZES; do
	a=$STORES/audit-$((n * 10))
	if [[ ! -e $a.done ]]; then
		echo "== writing an audit log of $((n * 10)) entries (once)" >&2
		rm -rf "$a"
		"$TOOL" auditgen "$a/audit" $((n * 10))
		touch "$a.done"
	fi
done

RES=$OUT/results.tsv
: > "$RES"
W=$OUT/work
URL=http://127.0.0.1:$PORT
SERVER=
cleanup() {
	[[ -n $SERVER ]] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT

# put SIZE ROUND NAME VALUE: one figure.
put() { printf '%s\t%s\t%s\t%s\n' "$@" >> "$RES"; }

# timed SIZE ROUND NAME command...: wall seconds, CPU seconds and peak RSS
# of one command.
timed() {
	local n=$1 r=$2 name=$3
	shift 3
	/usr/bin/time -o "$W/time" -f '%e %U %S %M' "$@" > "$W/cmd.out" 2> "$W/cmd.err" ||
		{ cat "$W/cmd.err" >&2; exit 1; }
	local e u s m
	read -r e u s m < "$W/time"
	put "$n" "$r" "$name.s" "$e"
	put "$n" "$r" "$name.cpu_s" "$(echo "$u $s" | awk '{print $1 + $2}')"
	put "$n" "$r" "$name.rss_mb" "$((m / 1024))"
	printf '   %-14s %7.2f s wall  %6.2f s CPU  %4d MB\n' "$name" "$e" "$(echo "$u $s" | awk '{print $1 + $2}')" $((m / 1024)) >&2
}

# rss PID: resident set in MB.
rss() { awk '/^VmRSS:/ {printf "%d", $2 / 1024}' "/proc/$1/status"; }
# cpu PID: user+system CPU seconds so far.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; }

# load SIZE ROUND NAME CONNS PATHFILE: wrk over the paths in PATHFILE
# (one picked at random per request); requests/s, p50 and p99.
load() {
	local n=$1 r=$2 name=$3 c=$4 paths=$5 cpu0 cpu1
	cpu0=$(cpu "$SERVER")
	wrk -t2 -c"$c" -d"$DURATION" --timeout 10s -s "$BENCH/scale-wrk.lua" "$URL" -- "$paths" > "$W/wrk.out" 2>&1 ||
		{ cat "$W/wrk.out" >&2; exit 1; }
	cpu1=$(cpu "$SERVER")
	local line
	line=$(grep '^WRK ' "$W/wrk.out") || { cat "$W/wrk.out" >&2; exit 1; }
	eval "${line#WRK }" # requests= duration_us= p50_us= p99_us= status_errors= socket_errors=
	if ((status_errors > 0)); then
		echo "$name: $status_errors non-2xx answers" >&2
		exit 1
	fi
	# Timeouts (10 s) on a machine that others load are counted, not fatal.
	((socket_errors == 0)) || echo "   $name: $socket_errors socket errors (timeouts)" >&2
	put "$n" "$r" "$name.socket_errors" "$socket_errors"
	put "$n" "$r" "$name.rps" "$(awk -v q="$requests" -v d="$duration_us" 'BEGIN {printf "%.0f", q / d * 1e6}')"
	put "$n" "$r" "$name.p50_ms" "$(awk -v v="$p50_us" 'BEGIN {printf "%.3f", v / 1000}')"
	put "$n" "$r" "$name.p99_ms" "$(awk -v v="$p99_us" 'BEGIN {printf "%.3f", v / 1000}')"
	# The server's own CPU per request: what the machine's other load
	# does not change much, unlike the latencies.
	local cpureq
	cpureq=$(awk -v a="$cpu0" -v b="$cpu1" -v q="$requests" 'BEGIN {printf "%.1f", (b - a) / q * 1e6}')
	put "$n" "$r" "$name.cpu_us" "$cpureq"
	printf '   %-14s %8.0f req/s  p50 %7.3f ms  p99 %7.3f ms  server CPU %6.1f us/req\n' "$name" "$(awk -v q="$requests" -v d="$duration_us" 'BEGIN {print q / d * 1e6}')" \
		"$(awk -v v="$p50_us" 'BEGIN {print v / 1000}')" "$(awk -v v="$p99_us" 'BEGIN {print v / 1000}')" "$cpureq" >&2
}

measure() {
	local n=$1 r=$2 mods=$((($1 - 100) / 10))
	echo "== $n module versions, round $r/$ROUNDS (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
	rm -rf "$W"
	mkdir -p "$W"
	# A copy of the cached store: hard links for the immutable module
	# files, a real copy of what is appended to or rewritten.
	cp -al "$STORES/store-$n" "$W/store"
	for d in audit bundles; do
		if [[ -e $W/store/$d ]]; then rm -rf "${W:?}/store/$d" && cp -a "$STORES/store-$n/$d" "$W/store/$d"; fi
	done
	for kind in list latest info search module web-home web-module; do
		"$TOOL" paths "$kind" "$mods" > "$W/paths-$kind"
	done

	# Start-up: the first 200 of a GOPROXY request, then a complete index.
	local t0 first ready
	sync
	t0=$(date +%s%N)
	"$MF" serve --store "$W/store" --addr "127.0.0.1:$PORT" --log-level warn 2> "$W/serve.log" &
	SERVER=$!
	first=$("$TOOL" wait -timeout 2m "$t0" "$URL/$BIG/@v/v1.0.0.info")
	ready=$("$TOOL" wait -timeout 10m -ready "$t0" "$URL/api/v1/stats")
	local cpu_ready
	cpu_ready=$(cpu "$SERVER")
	put "$n" "$r" serve.first200_ms "$first"
	put "$n" "$r" serve.ready_ms "$ready"
	put "$n" "$r" serve.ready_cpu_s "$cpu_ready"
	# Then the background work after Ready (the details module pages
	# show, the licences): wait until the server has used under 0.05
	# CPU-seconds over three seconds in a row (one quiet second can be a
	# background pass waiting on the disk).
	local c0 c1 settled quiet=0
	c0=$(cpu "$SERVER")
	while sleep 1; do
		c1=$(cpu "$SERVER")
		if awk -v a="$c0" -v b="$c1" 'BEGIN {exit !(b - a < 0.05)}'; then
			quiet=$((quiet + 1))
			((quiet == 3)) && break
		else
			quiet=0
			c0=$c1
		fi
	done
	settled=$(awk -v t0="$t0" -v now="$(date +%s%N)" 'BEGIN {printf "%.0f", (now - t0) / 1e6 - 3000}')
	put "$n" "$r" serve.settled_ms "$settled"
	put "$n" "$r" serve.settled_cpu_s "$c0"
	printf '   %-14s first 200 after %s ms; index complete after %s ms (%s CPU-s); background work done after %s ms (%s CPU-s)\n' \
		serve "$first" "$ready" "$cpu_ready" "$settled" "$c0" >&2
	sleep 1
	put "$n" "$r" serve.idle_rss_mb "$(rss "$SERVER")"

	# Load, with the server's RSS sampled every 100 ms.
	(
		peak=0
		while kill -0 "$SERVER" 2>/dev/null && [[ ! -e $W/stop-sampler ]]; do
			v=$(rss "$SERVER" 2>/dev/null || echo 0)
			((v > peak)) && peak=$v
			echo "$peak" > "$W/peak-rss"
			sleep 0.1
		done
	) &
	local sampler=$!
	load "$n" "$r" list 64 "$W/paths-list"
	load "$n" "$r" latest 64 "$W/paths-latest"
	load "$n" "$r" info 64 "$W/paths-info"
	load "$n" "$r" search 16 "$W/paths-search"
	load "$n" "$r" module 16 "$W/paths-module"
	load "$n" "$r" web-home 16 "$W/paths-web-home"
	load "$n" "$r" web-module 16 "$W/paths-web-module"
	touch "$W/stop-sampler"
	wait "$sampler"
	put "$n" "$r" serve.load_rss_mb "$(cat "$W/peak-rss")"
	printf '   %-14s idle %s MB, peak under load %s MB\n' rss "$(awk -v n="$n" -v r="$r" '$1 == n && $2 == r && $3 == "serve.idle_rss_mb" {print $4}' "$RES")" "$(cat "$W/peak-rss")" >&2
	kill "$SERVER"
	wait "$SERVER" 2>/dev/null || true
	SERVER=

	timed "$n" "$r" inventory "$MF" inventory --store "$W/store" -o "$W/inventory.json"
	put "$n" "$r" inventory.kb "$(($(stat -c %s "$W/inventory.json") / 1024))"
	timed "$n" "$r" export-since "$MF" export --unsigned --from-store "$STORES/new10" --since "$W/inventory.json" -o "$W/new10.tar.zst"
	timed "$n" "$r" import10 "$MF" import --allow-unsigned --store "$W/store" "$W/new10.tar.zst"
	timed "$n" "$r" audit-verify "$MF" audit verify --store "$STORES/audit-$((n * 10))"
	rm -rf "$W"
}

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
START=$(date -u +%FT%TZ)
for r in $(seq "$ROUNDS"); do
	for n in $SIZES; do measure "$n" "$r"; done
done
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

{
	echo "- date: $START; commit $(git -C "$ROOT" rev-parse --short HEAD)"
	echo "- CPU: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1) ($(nproc) CPUs)"
	echo "- kernel: $(uname -r); $(go version | cut -d' ' -f3-); GOMAXPROCS=${GOMAXPROCS:-$(nproc)}; memory $(free -g | awk '/^Mem:/ {print $2}') GB"
	echo "- load average before: $LOAD0; after: $LOAD1"
	echo "- wrk: 2 threads, $DURATION per figure; $ROUNDS round(s), sizes interleaved"
	for n in $SIZES; do
		read -r g i < "$STORES/store-$n.done"
		echo "- store of $n: generated in $g s, imported with import --cache-dir in $i s (once, cached)"
	done
} > "$OUT/env.md"
cat "$OUT/env.md" >&2
"$TOOL" report "$RES" "$OUT/env.md" "$BENCH/results/scale.md" "$BENCH/results/scale"
echo "== wrote bench/results/scale.md and bench/results/scale-*.svg" >&2
