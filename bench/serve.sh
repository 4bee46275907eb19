#!/usr/bin/env bash
# serve.sh — the server benchmark of issue 2.
#
# Serves the same store four ways on loopback — modferry, nginx (static,
# sendfile on), a server on the github.com/goproxy/goproxy library
# (bench/goproxyserver) and the least a net/http server does (goproxyserver
# -bare: small files from memory, zips by http.FileServer; the floor of a
# Go server, what modferry's own work is measured against) — and measures:
#
#   1. with wrk, a ~50-byte .info, a ~3 KB .mod and a ~1 MB .zip: requests/s,
#      MB/s, p99 latency and the server's peak RSS (VmHWM), one server at a
#      time, each started afresh for each file;
#   2. the wall time of a fresh client's `go mod download all` for
#      bench/k8sproject (150+ modules), GOMODCACHE on a tmpfs, the methods
#      interleaved A B C D A B C D … because the machine is noisy;
#
# and prints the figures, modferry's ratios and the issue's targets.
#
# Usage:  bench/serve.sh
# Environment: DURATION (wrk run, default 15s), RUNS (client runs per method,
# default 5), ROUNDS (wrk runs per server and file, default 3; the median
# is shown), THREADS (2), CONNS (64), WARMUP (unmeasured wrk run before each
# measured one, 2s), PORT_BASE (18180: nginx +1, modferry +2, goproxy +3,
# nethttp +4), ONLY (servers or client: run just one half), MF_GOMAXPROCS
# (GOMAXPROCS for modferry alone, not mfbase; default: the Go runtime's
# choice),
# MF_BASE (a second modferry binary, e.g. built from main, benchmarked as
# "mfbase" in the same rounds: before and after a change, interleaved).
# The report starts with the environment (CPU model, kernel, CPUs,
# modferry's GOMAXPROCS, load average) so that runs can be compared.
#
# Setup is cached under bench/_out (git-ignored): the upstream module cache is
# filled once from the real GOPROXY, then imported into bench/_out/store.
# Progress goes to stderr, the table to stdout; raw wrk output and server logs
# stay in bench/_out/logs. Every process the script starts is ended on exit.
set -euo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"
ROOT=$(dirname "$BENCH")
OUT=$BENCH/_out
BIN=$OUT/bin
LOGS=$OUT/logs
STORE=$OUT/store
DL=$STORE/download
UPSTREAM_CACHE=$OUT/upstream-gomodcache

DURATION=${DURATION:-15s}
RUNS=${RUNS:-5}
THREADS=${THREADS:-2}
CONNS=${CONNS:-64}
PORT_BASE=${PORT_BASE:-18180}
WARMUP=${WARMUP:-2s}
ROUNDS=${ROUNDS:-3}
ONLY=${ONLY:-}
[[ $ONLY == "" || $ONLY == servers || $ONLY == client ]] || { echo "serve.sh: ONLY is servers or client" >&2; exit 2; }
declare -A MED

MF_GOMAXPROCS=${MF_GOMAXPROCS:-}
SERVERS=(nginx goproxy modferry nethttp)
declare -A ADDR=(
	[nginx]=127.0.0.1:$((PORT_BASE + 1))
	[modferry]=127.0.0.1:$((PORT_BASE + 2))
	[goproxy]=127.0.0.1:$((PORT_BASE + 3))
	[nethttp]=127.0.0.1:$((PORT_BASE + 4))
	[mfbase]=127.0.0.1:$((PORT_BASE + 5))
)
MF_BASE=${MF_BASE:-}
[[ -z $MF_BASE ]] || SERVERS+=(mfbase)

# ---- processes and temporary directories, ended and removed on exit ----

PIDS=()
TMPDIRS=()

cleanup() {
	local pid d
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	for d in "${TMPDIRS[@]}"; do
		chmod -R u+w "$d" 2>/dev/null || true
		rm -rf "$d"
	done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_server NAME: starts the server on ADDR[NAME], waits for /healthz and
# sets SRV_PID.
start_server() {
	local name=$1 addr=${ADDR[$1]}
	port_busy "$addr" && die "$addr is already in use; set PORT_BASE"
	case $name in
	nginx) "$NGINX" -c "$OUT/nginx/nginx.conf" -e "$OUT/nginx/error.log" >>"$LOGS/nginx.log" 2>&1 & ;;
	modferry) env ${MF_GOMAXPROCS:+GOMAXPROCS=$MF_GOMAXPROCS} "$BIN/modferry" serve --store "$STORE" --addr "$addr" >>"$LOGS/modferry.log" 2>&1 & ;;
	goproxy) "$BIN/goproxyserver" -dir "$DL" -addr "$addr" >>"$LOGS/goproxy.log" 2>&1 & ;;
	mfbase) "$MF_BASE" serve --store "$STORE" --addr "$addr" >>"$LOGS/mfbase.log" 2>&1 & ;;
	nethttp) "$BIN/goproxyserver" -bare -dir "$DL" -addr "$addr" >>"$LOGS/nethttp.log" 2>&1 & ;;
	esac
	SRV_PID=$!
	PIDS+=("$SRV_PID")
	wait_http "http://$addr/healthz" "$SRV_PID" "$name" "$LOGS/$name.log"
}

# peak_rss_kb PID: VmHWM of the process plus that of its children (nginx's
# workers), in KiB.
peak_rss_kb() {
	local total=0 p kb
	for p in "$1" $(ps -o pid= --ppid "$1"); do
		kb=$(awk '/^VmHWM:/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
		total=$((total + ${kb:-0}))
	done
	echo "$total"
}

# rss_split_kb PID: RssAnon and RssFile of the process plus its children,
# in KiB, now: what the peak is made of (the server's own memory, and the
# pages of its binary and libraries that the kernel maps for it).
rss_split_kb() {
	local anon=0 file=0 p a f
	for p in "$1" $(ps -o pid= --ppid "$1"); do
		read -r a f < <(awk '/^RssAnon:/ {a = $2} /^RssFile:/ {f = $2} END {print a + 0, f + 0}' "/proc/$p/status" 2>/dev/null || echo 0 0)
		anon=$((anon + a)) file=$((file + f))
	done
	echo "$anon $file"
}

# ---- setup ----

setup_tools() {
	if ! command -v wrk >/dev/null || ! { command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]]; }; then
		log "installing nginx and wrk"
		apt-get install -y nginx wrk >&2 || { apt-get update >&2 && apt-get install -y nginx wrk >&2; }
	fi
	NGINX=$(command -v nginx || echo /usr/sbin/nginx)
	command -v curl >/dev/null || die "curl is needed"
}

build() {
	mkdir -p "$BIN" "$LOGS"
	log "building modferry and bench/goproxyserver"
	(cd "$ROOT" && CGO_ENABLED=0 go build -o "$BIN/modferry" ./cmd/modferry)
	(cd "$BENCH/goproxyserver" && CGO_ENABLED=0 go build -o "$BIN/goproxyserver" .)
}

write_nginx_conf() {
	local user=""
	mkdir -p "$OUT/nginx/tmp"
	# As root, nginx's workers would drop to "nobody"; keep them as the
	# user that owns the store.
	[[ $EUID -eq 0 ]] && user="user $(id -un) $(id -gn);"
	sed -e "s|@USER@|$user|" -e "s|@DIR@|$OUT/nginx|g" -e "s|@ADDR@|${ADDR[nginx]}|" -e "s|@ROOT@|$DL|" \
		"$BENCH/nginx.conf.in" >"$OUT/nginx/nginx.conf"
	"$NGINX" -t -q -c "$OUT/nginx/nginx.conf" -e "$OUT/nginx/error.log" >&2 || die "bad nginx config"
}

# nearest EXT SIZE: the store file with that extension whose size is nearest
# SIZE bytes (ties: first by path), as a path relative to the download dir.
nearest() {
	(cd "$DL" && find . -name "*.$1" -printf '%s %P\n') |
		awk -v want="$2" '{d = $1 - want; if (d < 0) d = -d; print d, $2}' | sort -k1,1n -k2 | awk 'NR == 1 {print $2}'
}

# ---- wrk runs ----

KINDS=(info mod zip)
declare -A FILE SIZE RPS MBS P99 RSS SPLIT OTHER CPU

pick_files() {
	FILE[info]=$(nearest info 50)
	FILE[mod]=$(nearest mod 3072)
	FILE[zip]=$(nearest zip 1048576)
	local k
	for k in "${KINDS[@]}"; do
		[[ -n ${FILE[$k]} ]] || die "no .$k file in $DL"
		SIZE[$k]=$(stat -c %s "$DL/${FILE[$k]}")
	done
}

# check_same NAME: every benchmark file comes back byte for byte from NAME.
check_same() {
	local k want got
	for k in "${KINDS[@]}"; do
		want=$(sha256sum <"$DL/${FILE[$k]}")
		got=$(curl -fsS "http://${ADDR[$1]}/${FILE[$k]}" | sha256sum)
		[[ $want == "$got" ]] || die "$1 serves different bytes for ${FILE[$k]}"
	done
}

# cpu_ticks PID...: CPU time (user+system, in clock ticks) of the processes
# and their children (nginx's workers).
cpu_ticks() {
	local p
	for p in "$@" $(ps -o pid= --ppid "$1"); do
		sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}' || true
	done | awk '{t += $1} END {print t + 0}'
}

# busy_ticks: CPU time all CPUs spent busy (not idle, not iowait) so far.
busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }

# wrk_once SERVER KIND ROUND: one measured run of SERVER on a fresh process;
# appends "server kind round req/s MB/s p99ms rssKiB other%" to $RESULTS,
# where other% is the share of all CPUs that processes other than the
# server and wrk used during the run: the noise of this machine.
wrk_once() {
	local srv=$1 k=$2 round=$3 url raw t0 t1 b0 b1 s0 s1 wrkcpu rss split line other
	start_server "$srv"
	check_same "$srv"
	url="http://${ADDR[$srv]}/${FILE[$k]}"
	raw=$LOGS/wrk-$srv-$k-$round.txt
	log "wrk $srv .$k round $round/$ROUNDS ($DURATION)"
	wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" "$url" >/dev/null
	b0=$(busy_ticks) s0=$(cpu_ticks "$SRV_PID") t0=$(date +%s%N)
	wrkcpu=$({
		TIMEFORMAT='%3U %3S'
		time wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$BENCH/wrk-report.lua" "$url" >"$raw"
	} 2>&1 | tail -1)
	b1=$(busy_ticks) s1=$(cpu_ticks "$SRV_PID") t1=$(date +%s%N)
	rss=$(peak_rss_kb "$SRV_PID")
	split=$(rss_split_kb "$SRV_PID")
	stop_pid "$SRV_PID"
	other=$(awk -v b="$((b1 - b0))" -v s="$((s1 - s0))" -v w="$wrkcpu" -v ns="$((t1 - t0))" \
		-v hz="$(getconf CLK_TCK)" -v n="$(nproc)" \
		'BEGIN {split(w, c, " "); o = (b - s) / hz - c[1] - c[2]; if (o < 0) o = 0; printf "%.0f", 100 * o / (n * ns / 1e9)}')
	line=$(grep '^WRK ' "$raw") || die "no wrk summary in $raw"
	local requests duration_us bytes p99_us status_errors socket_errors
	eval "${line#WRK }"
	((status_errors == 0 && socket_errors == 0)) ||
		log "WARNING: $srv .$k: $status_errors non-2xx answers, $socket_errors socket errors"
	awk -v srv="$srv" -v k="$k" -v r="$round" -v n="$requests" -v us="$duration_us" -v b="$bytes" \
		-v p99="$p99_us" -v rss="$rss" -v o="$other" -v st="$((s1 - s0))" -v hz="$(getconf CLK_TCK)" -v sp="$split" \
		'BEGIN {printf "%s %s %d %.0f %.1f %.2f %d %d %.1f %s\n", srv, k, r, n / (us / 1e6), b / 1e6 / (us / 1e6), p99 / 1000, rss, o, st / hz * 1e6 / n, sp}' >>"$RESULTS"
}

# bench_servers runs wrk ROUNDS times per server and file, servers one at a
# time and in a rotated order each round (A B C, B C A, C A B), the runs of
# one file next to each other; each figure is the round with the median
# req/s, peak RSS the highest of all rounds.
bench_servers() {
	local k round i n=${#SERVERS[@]} srv
	RESULTS=$LOGS/wrk-results.txt
	: >"$RESULTS"
	for k in "${KINDS[@]}"; do
		for round in $(seq "$ROUNDS"); do
			for i in $(seq 0 $((n - 1))); do
				wrk_once "${SERVERS[$(((i + round - 1) % n))]}" "$k" "$round"
			done
		done
	done
	for k in "${KINDS[@]}"; do
		for srv in "${SERVERS[@]}"; do
			read -r "RPS[$srv,$k]" "MBS[$srv,$k]" "P99[$srv,$k]" "OTHER[$srv,$k]" < <(
				awk -v s="$srv" -v k="$k" '$1 == s && $2 == k' "$RESULTS" | sort -k4,4g |
					awk '{l[NR] = $0} END {split(l[int((NR + 1) / 2)], f, " "); print f[4], f[5], f[6], f[8]}')
			RSS[$srv,$k]=$(awk -v s="$srv" -v k="$k" '$1 == s && $2 == k && $7 > m {m = $7} END {print m}' "$RESULTS")
			SPLIT[$srv,$k]=$(awk -v s="$srv" -v k="$k" '$1 == s && $2 == k && $7 > m {m = $7; a = $10; f = $11} END {printf "anon %.1f + file %.1f", a * 1024 / 1e6, f * 1024 / 1e6}' "$RESULTS")
			CPU[$srv,$k]=$(awk -v s="$srv" -v k="$k" '$1 == s && $2 == k {print $9}' "$RESULTS" | median)
		done
	done
}

# ---- client runs ----

declare -A CLIENT_URL CLIENT_PID
declare -A TIMES

bench_client() {
	local shm=/dev/shm base m run d t0 t1 zips want
	[[ -d $shm && -w $shm ]] || shm=${TMPDIR:-/tmp}
	base=$(mktemp -d "$shm/modferry-bench.XXXXXX")
	TMPDIRS+=("$base")
	mkdir "$base/project"
	cp "$BENCH/k8sproject/go.mod" "$BENCH/k8sproject/go.sum" "$BENCH/k8sproject/main.go" "$base/project/"
	want=$(find "$UPSTREAM_CACHE/cache/download" -name '*.zip' | wc -l)

	# Read the store once so that no method pays for a cold page cache.
	find "$DL" -type f -exec cat {} + >/dev/null
	CLIENT_METHODS=(modferry file nginx goproxy)
	CLIENT_URL[file]=file://$DL
	for m in modferry nginx goproxy; do
		start_server "$m"
		CLIENT_PID[$m]=$SRV_PID
		CLIENT_URL[$m]=http://${ADDR[$m]}
	done
	for run in $(seq "$RUNS"); do
		for m in "${CLIENT_METHODS[@]}"; do
			d=$base/client
			mkdir -p "$d"
			t0=$(date +%s%N)
			(cd "$base/project" && env GOENV=off GOTOOLCHAIN=local GOFLAGS=-mod=mod \
				GOPROXY="${CLIENT_URL[$m]}" GOSUMDB=off GONOSUMDB= GOPRIVATE= GONOPROXY= \
				GOPATH="$d/gopath" GOMODCACHE="$d/mod" GOCACHE="$d/gocache" \
				go mod download all) >"$LOGS/client-$m-$run.log" 2>&1 ||
				die "go mod download all via $m failed; see $LOGS/client-$m-$run.log"
			t1=$(date +%s%N)
			zips=$(find "$d/mod/cache/download" -name '*.zip' | wc -l)
			((zips == want)) || die "client via $m downloaded $zips zips, want $want"
			TIMES[$m]+="$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) / 1e9}') "
			log "client run $run/$RUNS via $m: $(echo "${TIMES[$m]}" | awk '{print $NF}') s"
			chmod -R u+w "$d"
			rm -rf "$d"
		done
	done
	for m in modferry nginx goproxy; do stop_pid "${CLIENT_PID[$m]}"; done
}

# ---- report ----

# ratio A B [DIGITS]: A/B, rounded to DIGITS (2) decimals.
verdict() { awk -v x="$1" -v op="$2" -v t="$3" 'BEGIN {ok = (op == ">=") ? x >= t : (op == "<=") ? x <= t : x < t; print ok ? "PASS" : "MISS"}'; }
# target NAME VALUE OP LIMIT prints one target line with PASS or MISS.
target() { printf '  %-38s %8s  %-7s %s\n' "$1" "$2" "$3 $4" "$(verdict "$2" "$3" "$4")"; }
mb() { awk -v kb="$1" 'BEGIN {printf "%.1f", kb * 1024 / 1e6}'; }

report_servers() {
	local k srv label
	echo "wrk -t$THREADS -c$CONNS -d$DURATION --latency; each server alone, started afresh per run; median of $ROUNDS rounds by req/s"
	echo "(server order rotated each round); nethttp = the least a net/http server does (goproxyserver -bare), the floor of a Go server; MB = 10^6 bytes; peak RSS = highest VmHWM of the rounds (nginx: master + workers"
	echo "summed); other% = share of all CPUs busy outside the server and wrk during that run: the machine's noise (the"
	echo "kernel's loopback softirq work run outside both counts too, so it is above 0 even on an idle machine); cpu us/req ="
	echo "the server's CPU time (user + system, its children too) per request, median of the rounds: what it costs, which"
	echo "a loaded machine moves less than req/s"
	echo
	printf '%-6s %-9s %10s %10s %9s %9s %7s %11s\n' file server req/s MB/s "p99 ms" "RSS MB" "other%" "cpu us/req"
	for k in "${KINDS[@]}"; do
		for srv in "${SERVERS[@]}"; do
			label=""
			[[ $srv == nginx ]] && label=.$k
			printf '%-6s %-9s %10s %10s %9s %9s %7s %11s\n' "$label" "$srv" "${RPS[$srv,$k]}" "${MBS[$srv,$k]}" "${P99[$srv,$k]}" "$(mb "${RSS[$srv,$k]}")" "${OTHER[$srv,$k]}" "${CPU[$srv,$k]}"
		done
		printf '%-6s %-9s %10s %10s\n' "" "mf/nginx" "$(ratio "${RPS[modferry,$k]}" "${RPS[nginx,$k]}")" "$(ratio "${MBS[modferry,$k]}" "${MBS[nginx,$k]}")"
		printf '%-6s %-9s %10s %10s\n' "" "mf/gopx" "$(ratio "${RPS[modferry,$k]}" "${RPS[goproxy,$k]}")" "$(ratio "${MBS[modferry,$k]}" "${MBS[goproxy,$k]}")"
		printf '%-6s %-9s %10s %10s\n' "" "mf/net" "$(ratio "${RPS[modferry,$k]}" "${RPS[nethttp,$k]}")" "$(ratio "${MBS[modferry,$k]}" "${MBS[nethttp,$k]}")"
		printf '%-6s %-9s %10s %10s\n' "" "net/nginx" "$(ratio "${RPS[nethttp,$k]}" "${RPS[nginx,$k]}")" "$(ratio "${MBS[nethttp,$k]}" "${MBS[nginx,$k]}")"
		[[ -z $MF_BASE ]] || printf '%-6s %-9s %10s %10s\n' "" "mf/mfbase" "$(ratio "${RPS[modferry,$k]}" "${RPS[mfbase,$k]}")" "$(ratio "${MBS[modferry,$k]}" "${MBS[mfbase,$k]}")"
	done
	echo
	echo "req/s ratios round by round (each round runs the servers back to back), median first:"
	local other
	for k in "${KINDS[@]}"; do
		for other in nginx nethttp ${MF_BASE:+mfbase}; do
			printf '  .%-4s modferry/%-8s %s\n' "$k" "$other" "$(round_ratios "$k" modferry "$other")"
		done
	done
	echo
	for k in "${KINDS[@]}"; do
		printf '  .%-4s = %s (%s bytes)\n' "$k" "${FILE[$k]}" "${SIZE[$k]}"
	done
}

# round_ratios KIND A B: A's req/s over B's in each round, as "median
# (r1 r2 ...)".
round_ratios() {
	awk -v k="$1" -v a="$2" -v b="$3" '$2 == k && $1 == a {x[$3] = $4; if ($3 > max) max = $3} $2 == k && $1 == b {y[$3] = $4}
		END {for (r = 1; r <= max; r++) if (y[r] > 0) {n++; v[n] = x[r] / y[r]; l = l sprintf(" %.2f", v[n])}
			for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) {t = v[i]; v[i] = v[j]; v[j] = t}
			m = n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
			printf "%.2f (%s )", m, substr(l, 2)}' "$RESULTS"
}

report_client() {
	echo
	echo "client: go mod download all, bench/k8sproject ($(find "$UPSTREAM_CACHE/cache/download" -name '*.zip' | wc -l) module zips), fresh GOMODCACHE on tmpfs, $RUNS interleaved runs"
	local m med
	printf '%-9s %9s %6s   %s\n' method "median s" "min s" "runs s (in order)"
	for m in "${CLIENT_METHODS[@]}"; do
		med=$(echo "${TIMES[$m]}" | tr ' ' '\n' | grep . | median)
		MED[$m]=$med
		printf '%-9s %9.2f %6.2f   %s\n' "$m" "$med" "$(echo "${TIMES[$m]}" | tr ' ' '\n' | grep . | sort -g | awk 'NR == 1')" "${TIMES[$m]}"
	done
	printf 'median / file://: modferry %s, nginx %s, goproxy %s\n' "$(ratio "${MED[modferry]}" "${MED[file]}" 3)" \
		"$(ratio "${MED[nginx]}" "${MED[file]}" 3)" "$(ratio "${MED[goproxy]}" "${MED[file]}" 3)"
}

report_targets() {
	local k
	echo
	echo "targets"
	if [[ $ONLY != client ]]; then
		for k in info mod; do
			target ".$k req/s modferry/nginx" "$(ratio "${RPS[modferry,$k]}" "${RPS[nginx,$k]}" 3)" ">=" 0.6
			target ".$k req/s modferry/goproxy" "$(ratio "${RPS[modferry,$k]}" "${RPS[goproxy,$k]}" 3)" ">=" 1.5
		done
		target ".zip MB/s modferry/nginx" "$(ratio "${MBS[modferry,zip]}" "${MBS[nginx,zip]}" 3)" ">=" 0.95
		target "modferry peak RSS in the .zip run, MB" "$(mb "${RSS[modferry,zip]}")" "<" 32
		echo "  (that run's RSS at its end, MB: ${SPLIT[modferry,zip]}; file = the binary's and libraries' pages the kernel maps)"
	fi
	if [[ $ONLY != servers ]]; then
		target "client median modferry/file://" "$(ratio "${MED[modferry]}" "${MED[file]}" 3)" "<=" 1.05
	fi
}

# print_env prints what a run depends on: the CPU, the kernel, modferry's
# GOMAXPROCS (as its /metrics reports it) and the load average.
#
# Its server also primes the store: the first start of modferry on a store
# whose catalog has not seen its zips detects their licences (building
# licensecheck's matcher: 1-2 CPU-s and a passing peak of 110-140 MB, see
# sbom.WarmLicenses) and writes the catalog's caches, which every later
# start reads instead. The server runs until its CPU time stops growing
# for a second (at most 30 s), so that every measured round starts on the
# same store, and that start's peak RSS is printed apart.
print_env() {
	local procs caches=yes last now idle=0 i
	[[ -d $STORE/catalog/licenses ]] || caches=no
	start_server modferry
	procs=$(curl -fsS "http://${ADDR[modferry]}/metrics" | awk '$1 == "go_sched_gomaxprocs_threads" {print $2}')
	last=$(cpu_ticks "$SRV_PID")
	for ((i = 0; i < 120 && idle < 4; i++)); do
		sleep 0.25
		now=$(cpu_ticks "$SRV_PID")
		if ((now == last)); then idle=$((idle + 1)); else idle=0; fi
		last=$now
	done
	FIRST_RSS=$(peak_rss_kb "$SRV_PID")
	stop_pid "$SRV_PID"
	echo "CPU: $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo); kernel $(uname -r); modferry GOMAXPROCS ${procs:-?}${MF_GOMAXPROCS:+ (MF_GOMAXPROCS)}; wrk $THREADS threads"
	echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "modferry's first start on this store (catalog caches there before: $caches; not a measured round): peak RSS $(mb "$FIRST_RSS") MB"
}

main() {
	setup_tools
	build
	fill_store
	write_nginx_conf
	pick_files
	echo
	echo "modferry server benchmark — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(go version | cut -d' ' -f3), $("$NGINX" -v 2>&1 | sed 's|.*: ||; s|/| |'), goproxy v0.22.1"
	print_env
	if [[ $ONLY != client ]]; then
		bench_servers
		report_servers
	fi
	if [[ $ONLY != servers ]]; then
		bench_client
		report_client
	fi
	report_targets
	echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
}

main "$@"
