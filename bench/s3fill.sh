#!/usr/bin/env bash
# s3fill.sh: a fill-through proxy on a store in MinIO answering .zip
# requests for versions it already holds (the hits, which are almost every
# request once a team has built once), by this tree's modferry and by one
# built from $BASE, in interleaved rounds.
#
# The upstream is a modferry serving bench/_out/store (the module cache
# of bench/k8sproject, which bench/serve.sh makes) from its disk; each
# build runs `serve --upstream` on its own prefix of one MinIO bucket
# (--private '*': the upstream has no checksum-database proofs to check
# against, and what is measured is the store's path, not the check). Each
# zip is fetched once through each proxy first (the fill); then wrk asks
# each proxy for the same zip for DURATION, one build after the other,
# a small zip and a ~1 MB one. Figures: requests/s and the CPU seconds of
# MinIO and of the proxy per 1,000 requests, medians of the rounds.
#
# Env: RUNS (default 3), BASE (git ref, default main), DURATION (default
# 10s), CONNS (16), PORT_BASE (19400: MinIO +6 and +7, the upstream +8,
# the proxy +9). Needs wrk, bench/_out/store (run bench/serve.sh once) and
# MinIO (see find_minio in lib.sh).
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$BENCH")
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"
RUNS=${RUNS:-3}
BASE=${BASE:-main}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-16}
PORT_BASE=${PORT_BASE:-19400}
# shellcheck disable=SC2034 # both read by run_minio and s3_env (lib.sh)
MINIO_ADDR=127.0.0.1:$((PORT_BASE + 6)) MINIO_CONSOLE=127.0.0.1:$((PORT_BASE + 7))
UP_ADDR=127.0.0.1:$((PORT_BASE + 8))
PROXY_ADDR=127.0.0.1:$((PORT_BASE + 9))
UPSTORE=$BENCH/_out/store
OUT=$BENCH/_out/s3fill
LOGS=$OUT/logs
command -v wrk >/dev/null || die "wrk is needed (apt-get install wrk)"
[[ -d $UPSTORE/download ]] || die "no $UPSTORE: run bench/serve.sh first (it makes the store)"
mkdir -p "$OUT" "$LOGS"
s3_bench_start "$OUT" "$BASE" "$(mktemp -d "$OUT/minio.XXXXXX")" remove
"$OUT/modferry" serve --store "$UPSTORE" --addr "$UP_ADDR" >>"$LOGS/upstream.log" 2>&1 &
PIDS+=("$!")
wait_http "http://$UP_ADDR/healthz" "$!" upstream "$LOGS/upstream.log"

# zip_near SIZE: the store's zip whose size is nearest SIZE bytes.
zip_near() {
	(cd "$UPSTORE/download" && find . -name '*.zip' -printf '%s %P\n') |
		awk -v want="$1" '{d = $1 - want; if (d < 0) d = -d; print d, $2}' | sort -k1,1n -k2 | awk 'NR == 1 {print $2}'
}
declare -A FILE=([small]=$(zip_near 20000) [large]=$(zip_near 1048576))
ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
HZ=$(getconf CLK_TCK)

# proxy WHICH: starts the fill-through proxy of build WHICH (NEW or BASE)
# on its prefix and sets PROXY_PID.
proxy() {
	local bin=$OUT/modferry
	[[ $1 == BASE ]] && bin=$OUT/modferry.base
	"$bin" serve --create-bucket --store "s3://bench/fill-${1,,}" --upstream "http://$UP_ADDR" --private '*' --addr "$PROXY_ADDR" >>"$LOGS/proxy.log" 2>&1 &
	PROXY_PID=$!
	PIDS+=("$PROXY_PID")
	wait_http "http://$PROXY_ADDR/healthz" "$PROXY_PID" proxy "$LOGS/proxy.log"
}

for which in NEW BASE; do
	proxy "$which"
	for k in small large; do
		curl -fsS -o /dev/null "http://$PROXY_ADDR/${FILE[$k]}" || die "the fill of ${FILE[$k]} failed; see $LOGS/proxy.log"
	done
	stop_pid "$PROXY_PID"
done

declare -A RPS MCPU PCPU
declare -a LOAD
for i in $(seq "$RUNS"); do
	LOAD+=("$(cut -d' ' -f1 /proc/loadavg)")
	log "round $i/$RUNS (load ${LOAD[-1]})"
	for k in small large; do
		for which in NEW BASE; do
			proxy "$which"
			wrk -t2 -c"$CONNS" -d2s "http://$PROXY_ADDR/${FILE[$k]}" >/dev/null
			m0=$(ticks "$MINIO_PID") p0=$(ticks "$PROXY_PID")
			res=$(wrk -t2 -c"$CONNS" -d"$DURATION" "http://$PROXY_ADDR/${FILE[$k]}")
			m1=$(ticks "$MINIO_PID") p1=$(ticks "$PROXY_PID")
			stop_pid "$PROXY_PID"
			grep -q 'Non-2xx' <<<"$res" && die "non-2xx answers from the $which proxy: $res"
			reqs=$(awk '/requests in/ {print $1}' <<<"$res")
			RPS[$k,$which]+=" $(awk '/^Requests\/sec/ {print $2}' <<<"$res")"
			MCPU[$k,$which]+=" $(awk -v a="$m0" -v b="$m1" -v n="$reqs" -v hz="$HZ" 'BEGIN {printf "%.3f", (b - a) / hz / n * 1000}')"
			PCPU[$k,$which]+=" $(awk -v a="$p0" -v b="$p1" -v n="$reqs" -v hz="$HZ" 'BEGIN {printf "%.3f", (b - a) / hz / n * 1000}')"
		done
	done
done

echo
echo "modferry S3 fill-through benchmark — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(uname -r), $(go version | cut -d' ' -f3)"
echo "MinIO: $("$MINIO" --version 2>/dev/null | head -1), four drives on $(df --output=fstype "$S3B_DATA" | tail -1), loopback"
echo "hits of a fill-through proxy (serve --upstream on s3://), wrk -t2 -c$CONNS for $DURATION per build and zip; $RUNS interleaved rounds; load average (1 min) per round: ${LOAD[*]}"
echo "zips: small ${FILE[small]} ($(stat -c %s "$UPSTORE/download/${FILE[small]}") bytes), large ${FILE[large]} ($(stat -c %s "$UPSTORE/download/${FILE[large]}") bytes)"
echo
printf '%-6s %-10s %12s %20s %20s   %s\n' zip build "req/s" "MinIO CPU-s/1k req" "proxy CPU-s/1k req" "req/s runs"
for k in small large; do
	for which in NEW BASE; do
		name="this tree"
		[[ $which == BASE ]] && name=$BASE
		# shellcheck disable=SC2086 # the runs, one word each
		printf '%-6s %-10s %12s %20s %20s  %s\n' "$k" "$name" "$(med ${RPS[$k,$which]})" "$(med ${MCPU[$k,$which]})" "$(med ${PCPU[$k,$which]})" "${RPS[$k,$which]}"
	done
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
