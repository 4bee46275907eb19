#!/usr/bin/env bash
# s3refresh.sh: what an idle server's catalog refresh costs on a store in
# MinIO, by this tree's modferry and by one built from $BASE, in
# interleaved rounds.
#
# The bench bundle (bench/k8sproject) is imported into a fresh MinIO
# store once; then each build serves it in turn, with --catalog-refresh
# 1s, for DURATION seconds once its catalog is ready, while nothing
# changes the store. The figures are the CPU seconds MinIO and the server
# spent in that window (per refresh: divide by DURATION), the median of
# the rounds, every round shown.
#
# Env: RUNS (default 3), BASE (git ref, default main), DURATION (default
# 20), PORT_BASE (default 19400: MinIO listens on PORT_BASE+6 and +7, the
# server on +8). Needs the bundle that bench/import.sh makes
# (bench/_out/import/b.tar.zst, key.pub) and MinIO (see find_minio in
# lib.sh).
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$BENCH")
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"
RUNS=${RUNS:-3}
BASE=${BASE:-main}
DURATION=${DURATION:-20}
PORT_BASE=${PORT_BASE:-19400}
# shellcheck disable=SC2034 # both read by run_minio and s3_env (lib.sh)
MINIO_ADDR=127.0.0.1:$((PORT_BASE + 6)) MINIO_CONSOLE=127.0.0.1:$((PORT_BASE + 7))
SERVE_ADDR=127.0.0.1:$((PORT_BASE + 8))
IMP=$BENCH/_out/import
OUT=$BENCH/_out/s3refresh
LOGS=$OUT/logs
[[ -f $IMP/b.tar.zst && -f $IMP/key.pub ]] || die "no bench bundle: run bench/import.sh first (it makes $IMP/b.tar.zst)"
mkdir -p "$OUT" "$LOGS"
s3_bench_start "$OUT" "$BASE" "$(mktemp -d "$OUT/minio.XXXXXX")" remove
STORE=s3://bench/store
log "importing the bench bundle into $STORE"
"$OUT/modferry" import --create-bucket --pubkey "$IMP/key.pub" --store "$STORE" "$IMP/b.tar.zst" >/dev/null 2>>"$LOGS/commands.log"

# ticks PID: the process's CPU time (user + system) in clock ticks.
ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
HZ=$(getconf CLK_TCK)
declare -a MINIO_NEW MINIO_BASE SRV_NEW SRV_BASE LOAD
for i in $(seq "$RUNS"); do
	LOAD+=("$(cut -d' ' -f1 /proc/loadavg)")
	log "round $i/$RUNS (load ${LOAD[-1]})"
	for which in NEW BASE; do
		bin=$OUT/modferry
		[[ $which == BASE ]] && bin=$OUT/modferry.base
		"$bin" serve --store "$STORE" --addr "$SERVE_ADDR" --catalog-refresh 1s >>"$LOGS/serve.log" 2>&1 &
		pid=$!
		wait_http "http://$SERVE_ADDR/healthz" "$pid" modferry
		# Ready: the index is complete (the first walk is done).
		for _ in $(seq 300); do
			body=$(curl -fsS "http://$SERVE_ADDR/api/v1/stats" 2>/dev/null) && [[ $body != *'"partial":true'* ]] && break
			sleep 0.1
		done
		sleep 2
		m0=$(ticks "$MINIO_PID") s0=$(ticks "$pid")
		sleep "$DURATION"
		m1=$(ticks "$MINIO_PID") s1=$(ticks "$pid")
		stop_pid "$pid"
		eval "MINIO_$which+=($(awk -v a="$m0" -v b="$m1" -v hz="$HZ" 'BEGIN {printf "%.2f", (b - a) / hz}'))"
		eval "SRV_$which+=($(awk -v a="$s0" -v b="$s1" -v hz="$HZ" 'BEGIN {printf "%.2f", (b - a) / hz}'))"
	done
done

echo
echo "modferry S3 catalog refresh benchmark — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(uname -r), $(go version | cut -d' ' -f3)"
echo "MinIO: $("$MINIO" --version 2>/dev/null | head -1), four drives on $(df --output=fstype "$S3B_DATA" | tail -1), loopback"
echo "store: bench/k8sproject's bundle imported; an idle server, --catalog-refresh 1s, ${DURATION} s measured after its index is ready; $RUNS interleaved rounds; load average (1 min) per round: ${LOAD[*]}"
echo
printf '%-24s %10s   %s\n' "CPU seconds in ${DURATION} s" median runs
printf '%-24s %10s   %s\n' "MinIO, this tree" "$(med "${MINIO_NEW[@]}")" "${MINIO_NEW[*]}"
printf '%-24s %10s   %s\n' "MinIO, $BASE" "$(med "${MINIO_BASE[@]}")" "${MINIO_BASE[*]}"
printf '%-24s %10s   %s\n' "server, this tree" "$(med "${SRV_NEW[@]}")" "${SRV_NEW[*]}"
printf '%-24s %10s   %s\n' "server, $BASE" "$(med "${SRV_BASE[@]}")" "${SRV_BASE[*]}"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
