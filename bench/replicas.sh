#!/usr/bin/env bash
# replicas.sh — the load-and-faults benchmark of issue 12 (section 7).
#
# Three `modferry serve --store s3://…` replicas on one MinIO (erasure-coded
# over four drives, on loopback), behind nginx (bench/nginx-replicas.conf.in:
# round robin, retries on the next replica for idempotent requests), against
# the single-disk server (`modferry serve --store DIR`), with the same load:
#
#   - wrk, CONNS (64) connections for DURATION (60s) of mixed .info, .mod and
#     .zip requests: three wrk processes at once, one per file kind, with a
#     third of the connections each, every request a path drawn at random
#     among all the store's files of that kind (bench/wrk-paths.lua), so
#     that each kind has its own p50 and p99;
#   - at the same moment, CLIENTS (20) go clients with fresh module caches
#     building bench/k8sproject in parallel: `go build` of the packages its
#     main package imports, which fetches the same modules as building the
#     command but links nothing (twenty links of that command at once, ~1 GB
#     of memory each, would exhaust a shared machine); the build cache is
#     shared and warmed first, so that the clients fetch, extract and hash
#     modules rather than compile.
#
# Configurations, interleaved in rotated order each round (the machine is
# shared and noisy): s3 (nginx + 3 replicas + MinIO), disk (one server, no
# nginx: today's deployment), s3-kill (as s3, with one replica killed with
# SIGKILL at KILL_AT). Each configuration's servers start afresh for each
# round; MinIO stays up. Errors are counted everywhere: wrk's non-2xx
# answers and socket errors, failed go builds, and nginx's 5xx answers. The
# CPU time each component used during the wrk window (MinIO, the modferry
# servers, nginx, wrk, and the rest: go clients and whatever else runs on
# the machine) names the bottleneck.
#
# Each replica keeps its zip copies in its own fresh directory
# (--zip-cache-dir, under bench/_out, removed after the run); ZIP_CACHE=0
# runs the replicas without it (every zip streamed from MinIO).
# Before its warm-up, each run fetches every file once from each server
# directly (the replicas' caches warm, as on a replica that has been
# serving for a while; the disk's page cache likewise); WARM=0 skips it,
# so that the s3 runs measure replicas that start cold.
# MODFERRY_BIN=FILE runs that modferry binary instead of building this
# tree's (another commit's, for a before/after comparison in the same
# setup; with ZIP_CACHE=0 if it has no --zip-cache-dir).
# PROFILE=1 writes a CPU profile of the first replica of each s3 run to
# bench/_out/replicas-logs/replica-cpu-CONFIG-ROUND.pprof (go tool pprof -top).
#
# Usage:  bench/replicas.sh
# A shorter run: CONFIGS="s3 disk" ROUNDS=1 DURATION=30s bench/replicas.sh
# Environment: DURATION (60s), CONNS (64), CLIENTS (20), ROUNDS (2), ZIP_CACHE (1),
# KILL_AT (seconds into the run, default half of DURATION), WARMUP (5s of
# unmeasured wrk per run), CONFIGS ("s3 disk s3-kill"), PORT_BASE (18380:
# nginx +1, replicas +2..+4, disk server +5, MinIO +6 and +7).
# MinIO is $MODFERRY_MINIO, else minio on PATH, else the binary
# scripts/test.sh builds into ${XDG_CACHE_HOME:-~/.cache}/modferry/minio/.
#
# Setup is cached under bench/_out (git-ignored), shared with bench/serve.sh:
# the upstream module cache (filled once from the real GOPROXY), the disk
# store imported from it and the go build cache. MinIO's drives are on the
# same disk, in a fresh directory removed on exit; the S3 store is imported
# from the same module cache at each run. Progress goes to stderr, the report
# to stdout; raw wrk output and logs stay in bench/_out/replicas-logs. Every
# process the script starts is ended on exit.
set -euo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"
ROOT=$(dirname "$BENCH")
OUT=$BENCH/_out
BIN=$OUT/bin
LOGS=$OUT/replicas-logs
STORE=$OUT/store
DL=$STORE/download
UPSTREAM_CACHE=$OUT/upstream-gomodcache
GOCACHE_DIR=$OUT/gocache

DURATION=${DURATION:-60s}
CONNS=${CONNS:-64}
CLIENTS=${CLIENTS:-20}
ROUNDS=${ROUNDS:-2}
WARMUP=${WARMUP:-5s}
CONFIGS=${CONFIGS:-s3 disk s3-kill}
ZIP_CACHE=${ZIP_CACHE:-1}
PROFILE=${PROFILE:-0}
WARM=${WARM:-1}
PORT_BASE=${PORT_BASE:-18380}
secs() { case $1 in *m) echo $((${1%m} * 60)) ;; *s) echo "${1%s}" ;; *) echo "$1" ;; esac; }
DURATION_S=$(secs "$DURATION")
KILL_AT=${KILL_AT:-$((DURATION_S / 2))}

NGINX_ADDR=127.0.0.1:$((PORT_BASE + 1))
REPLICA_ADDRS=(127.0.0.1:$((PORT_BASE + 2)) 127.0.0.1:$((PORT_BASE + 3)) 127.0.0.1:$((PORT_BASE + 4)))
DISK_ADDR=127.0.0.1:$((PORT_BASE + 5))
MINIO_ADDR=127.0.0.1:$((PORT_BASE + 6))
MINIO_CONSOLE=127.0.0.1:$((PORT_BASE + 7))
BUCKET=modferry-bench
S3STORE=s3://$BUCKET/store
KINDS=(info mod zip)
# What a client builds: the packages bench/k8sproject/main.go imports.
CLIENT_PACKAGES=(fmt k8s.io/client-go/kubernetes k8s.io/client-go/rest sigs.k8s.io/controller-runtime)

# ---- processes and temporary directories, ended and removed on exit ----

PIDS=()
TMPDIRS=()
CLIENT_PIDS=()
WRK_PIDS=()

# kill_tree PID: ends PID and every process under it (a go client's
# subshell, its go command and the compilers it runs).
kill_tree() {
	local c
	kill -STOP "$1" 2>/dev/null || return 0
	for c in $(ps -o pid= --ppid "$1"); do kill_tree "$c"; done
	kill "$1" 2>/dev/null || true
	kill -CONT "$1" 2>/dev/null || true
}

cleanup() {
	local pid d
	for pid in "${CLIENT_PIDS[@]}" "${WRK_PIDS[@]}"; do kill_tree "$pid"; done
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}" "${CLIENT_PIDS[@]}" "${WRK_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	for d in "${TMPDIRS[@]}"; do
		chmod -R u+w "$d" 2>/dev/null || true
		rm -rf "$d"
	done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- setup ----

setup_tools() {
	if ! command -v wrk >/dev/null || ! { command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]]; }; then
		log "installing nginx and wrk"
		apt-get install -y nginx wrk >&2 || { apt-get update >&2 && apt-get install -y nginx wrk >&2; }
	fi
	NGINX=$(command -v nginx || echo /usr/sbin/nginx)
	command -v curl >/dev/null || die "curl is needed"
	find_minio
}

build() {
	mkdir -p "$BIN" "$LOGS"
	if [[ -n ${MODFERRY_BIN:-} ]]; then
		log "using $MODFERRY_BIN"
		cp "$MODFERRY_BIN" "$BIN/modferry"
		return
	fi
	log "building modferry"
	(cd "$ROOT" && CGO_ENABLED=0 go build -o "$BIN/modferry" ./cmd/modferry)
}

start_minio() {
	local dir
	dir=$(mktemp -d "$OUT/minio.XXXXXX")
	TMPDIRS+=("$dir")
	run_minio "$dir"
	PIDS+=("$MINIO_PID")
	log "importing the module cache into $S3STORE on MinIO"
	"$BIN/modferry" import --store "$S3STORE" --create-bucket --cache-dir "$UPSTREAM_CACHE" >&2
}

write_nginx_conf() {
	local user="" servers="" a
	mkdir -p "$OUT/nginx-replicas/tmp"
	[[ $EUID -eq 0 ]] && user="user $(id -un) $(id -gn);"
	for a in "${REPLICA_ADDRS[@]}"; do servers+="        server $a max_fails=1 fail_timeout=10s;\\n"; done
	sed -e "s|@USER@|$user|" -e "s|@DIR@|$OUT/nginx-replicas|g" -e "s|@ADDR@|$NGINX_ADDR|" -e "s|@SERVERS@|$servers|" \
		"$BENCH/nginx-replicas.conf.in" >"$OUT/nginx-replicas/nginx.conf"
	"$NGINX" -t -q -c "$OUT/nginx-replicas/nginx.conf" -e "$OUT/nginx-replicas/error.log" >&2 || die "bad nginx config"
}

# write_paths: one list of URL paths per file kind, every file of the store.
write_paths() {
	local k
	for k in "${KINDS[@]}"; do
		(cd "$DL" && find . -name "*.$k" -printf '/%P\n' | sort) >"$LOGS/paths.$k"
		[[ -s $LOGS/paths.$k ]] || die "no .$k file in $DL"
	done
}

# ---- servers of one configuration ----

# start_config CONFIG: starts its servers; sets URL and SERVER_PIDS.
start_config() {
	local a pid
	SERVER_PIDS=()
	case $1 in
	s3*)
		local zc=() prof
		if [[ $ZIP_CACHE == 1 ]]; then
			ZIPCACHE_DIR=$(mktemp -d "$OUT/zipcache.XXXXXX")
			TMPDIRS+=("$ZIPCACHE_DIR")
		fi
		for a in "${REPLICA_ADDRS[@]}"; do
			port_busy "$a" && die "$a is already in use; set PORT_BASE"
			[[ $ZIP_CACHE == 1 ]] && zc=(--zip-cache-dir "$ZIPCACHE_DIR/${a##*:}")
			prof=""
			[[ $PROFILE == 1 && $a == "${REPLICA_ADDRS[0]}" ]] && prof=$LOGS/replica-cpu-$1-${ROUND:-0}.pprof
			MODFERRY_CPUPROFILE=$prof "$BIN/modferry" serve --store "$S3STORE" --addr "$a" --trusted-proxy 127.0.0.1 "${zc[@]}" >>"$LOGS/replica-$a.log" 2>&1 &
			pid=$!
			PIDS+=("$pid")
			SERVER_PIDS+=("$pid")
		done
		SERVER_URLS=()
		for a in "${REPLICA_ADDRS[@]}"; do SERVER_URLS+=("http://$a"); done
		for i in "${!REPLICA_ADDRS[@]}"; do wait_http "http://${REPLICA_ADDRS[$i]}/healthz" "${SERVER_PIDS[$i]}" "replica ${REPLICA_ADDRS[$i]}"; done
		port_busy "$NGINX_ADDR" && die "$NGINX_ADDR is already in use; set PORT_BASE"
		: >"$OUT/nginx-replicas/access.log"
		"$NGINX" -c "$OUT/nginx-replicas/nginx.conf" -e "$OUT/nginx-replicas/error.log" >>"$LOGS/nginx.log" 2>&1 &
		NGINX_PID=$!
		PIDS+=("$NGINX_PID")
		wait_http "http://$NGINX_ADDR/healthz" "$NGINX_PID" nginx
		URL=http://$NGINX_ADDR
		;;
	disk)
		port_busy "$DISK_ADDR" && die "$DISK_ADDR is already in use; set PORT_BASE"
		"$BIN/modferry" serve --store "$STORE" --addr "$DISK_ADDR" --trusted-proxy 127.0.0.1 >>"$LOGS/disk.log" 2>&1 &
		pid=$!
		PIDS+=("$pid")
		SERVER_PIDS=("$pid")
		wait_http "http://$DISK_ADDR/healthz" "$pid" "disk server"
		NGINX_PID=
		URL=http://$DISK_ADDR
		SERVER_URLS=("$URL")
		;;
	esac
}

stop_config() {
	local p
	[[ -n $NGINX_PID ]] && stop_pid "$NGINX_PID"
	for p in "${SERVER_PIDS[@]}"; do stop_pid "$p"; done
	if [[ -n ${ZIPCACHE_DIR:-} ]]; then
		rm -rf "$ZIPCACHE_DIR"
		ZIPCACHE_DIR=
	fi
}

# check_same: a file of each kind comes back byte for byte from URL.
check_same() {
	local k p want got
	for k in "${KINDS[@]}"; do
		p=$(sed -n '1p' "$LOGS/paths.$k")
		want=$(sha256sum <"$DL$p")
		got=$(curl -fsS "$URL$p" | sha256sum)
		[[ $want == "$got" ]] || die "$URL serves different bytes for $p"
	done
}

# warm_servers: every file of the store fetched once from each server of
# the configuration, directly (not through nginx).
warm_servers() {
	local base k p
	for base in "${SERVER_URLS[@]}"; do
		for k in "${KINDS[@]}"; do
			while read -r p; do printf 'url = "%s%s"\noutput = "/dev/null"\n' "$base" "$p"; done <"$LOGS/paths.$k"
		done
	done >"$LOGS/warm.curl"
	curl -sS --fail --parallel --parallel-max 8 -K "$LOGS/warm.curl" 2>>"$LOGS/warm.log" || die "warming the servers failed; see $LOGS/warm.log"
}

# ---- measuring ----

# cpu_ticks PID...: CPU time (user+system, clock ticks) of the processes and
# their children (nginx's workers).
cpu_ticks() {
	local p
	for p in "$@"; do
		[[ -n $p ]] || continue
		for q in "$p" $(ps -o pid= --ppid "$p" 2>/dev/null); do
			sed 's/.*) //' "/proc/$q/stat" 2>/dev/null | awk '{print $12 + $13}' || true
		done
	done | awk '{t += $1} END {print t + 0}'
}

# busy_ticks: CPU time all CPUs spent busy (not idle, not iowait) so far.
busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# run_clients DIR: CLIENTS go builds of bench/k8sproject against URL, in
# parallel, each with a fresh GOPATH and module cache; each writes
# "exit-code seconds" to DIR/N.result.
run_clients() {
	local dir=$1 n
	for n in $(seq "$CLIENTS"); do
		mkdir -p "$dir/$n/project"
		cp "$BENCH/k8sproject/go.mod" "$BENCH/k8sproject/go.sum" "$BENCH/k8sproject/main.go" "$dir/$n/project/"
		(
			t0=$(date +%s%N)
			rc=0
			cd "$dir/$n/project" && env GOENV=off GOTOOLCHAIN=local GOFLAGS="-mod=mod -trimpath" \
				GOPROXY="$URL" GOSUMDB=off GONOSUMDB= GOPRIVATE= GONOPROXY= \
				GOPATH="$dir/$n/gopath" GOMODCACHE="$dir/$n/mod" GOCACHE="$GOCACHE_DIR" \
				go build "${CLIENT_PACKAGES[@]}" >"$dir/$n.log" 2>&1 || rc=$?
			echo "$rc $(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN {printf "%.1f", (b - a) / 1e9}')" >"$dir/$n.result"
		) &
		CLIENT_PIDS+=("$!")
	done
}

# run_once CONFIG ROUND: one measured run; appends to the result files.
run_once() {
	local cfg=$1 round=$2 k n c t0 t1 b0 b1 s0 s1 m0 m1 g0 g1 w1 dir line killed="" kt=0
	local -A conns=([info]=$((CONNS / 3)) [mod]=$((CONNS / 3)) [zip]=$((CONNS - 2 * (CONNS / 3))))
	ROUND=$round start_config "$cfg"
	check_same
	if [[ $WARM == 1 ]]; then
		log "round $round/$ROUNDS: $cfg, fetching every file once from each server"
		warm_servers
	fi
	log "round $round/$ROUNDS: $cfg, warm-up $WARMUP"
	for k in "${KINDS[@]}"; do
		wrk -t1 -c"${conns[$k]}" -d"$WARMUP" -s "$BENCH/wrk-paths.lua" "$URL" -- "$LOGS/paths.$k" >/dev/null &
		WRK_PIDS+=("$!")
	done
	for n in "${WRK_PIDS[@]}"; do wait "$n"; done
	WRK_PIDS=()
	[[ $cfg == s3* ]] && : >"$OUT/nginx-replicas/access.log"

	dir=$(mktemp -d "$OUT/clients.XXXXXX")
	TMPDIRS+=("$dir")
	log "round $round/$ROUNDS: $cfg, wrk $DURATION + $CLIENTS go clients (load average $(loadavg))"
	LOADS+="$cfg/$round: $(loadavg)"$'\n'
	b0=$(busy_ticks) s0=$(cpu_ticks "${SERVER_PIDS[@]}") m0=$(cpu_ticks "${MINIO_PID:-}") g0=$(cpu_ticks "$NGINX_PID")
	t0=$(date +%s%N)
	CLIENT_PIDS=()
	run_clients "$dir"
	for k in "${KINDS[@]}"; do
		wrk -t1 -c"${conns[$k]}" -d"$DURATION" --timeout 30s --latency -s "$BENCH/wrk-paths.lua" "$URL" -- "$LOGS/paths.$k" \
			>"$LOGS/wrk-$cfg-$round-$k.txt" &
		WRK_PIDS+=("$!")
	done
	if [[ $cfg == s3-kill ]]; then
		sleep "$KILL_AT"
		log "SIGKILL of replica ${REPLICA_ADDRS[1]} at ${KILL_AT}s"
		kt=$(cpu_ticks "${SERVER_PIDS[1]}")
		kill -KILL "${SERVER_PIDS[1]}"
		wait "${SERVER_PIDS[1]}" 2>/dev/null || true
		killed=${SERVER_PIDS[1]}
	fi
	# wrk's CPU: the ticks of the wrk processes, read just before they end.
	w1=0
	while :; do
		c=0
		for n in "${WRK_PIDS[@]}"; do kill -0 "$n" 2>/dev/null && c=$((c + 1)); done
		((c == ${#WRK_PIDS[@]})) || break
		w1=$(cpu_ticks "${WRK_PIDS[@]}")
		sleep 0.5
	done
	for n in "${WRK_PIDS[@]}"; do wait "$n"; done
	WRK_PIDS=()
	b1=$(busy_ticks) t1=$(date +%s%N)
	s1=$(cpu_ticks "${SERVER_PIDS[@]}") m1=$(cpu_ticks "${MINIO_PID:-}") g1=$(cpu_ticks "$NGINX_PID")
	if [[ -n $killed ]]; then # the killed one's CPU as read just before the kill
		local live=()
		for n in "${SERVER_PIDS[@]}"; do [[ $n == "$killed" ]] || live+=("$n"); done
		s1=$(($(cpu_ticks "${live[@]}") + kt))
	fi
	[[ $cfg == disk ]] && m1=$m0
	for k in "${KINDS[@]}"; do
		line=$(grep '^WRK ' "$LOGS/wrk-$cfg-$round-$k.txt") || die "no wrk summary in $LOGS/wrk-$cfg-$round-$k.txt"
		echo "$cfg $round $k ${line#WRK }" >>"$WRK_RESULTS"
	done
	awk -v c="$cfg" -v r="$round" -v b="$((b1 - b0))" -v s="$((s1 - s0))" -v m="$((m1 - m0))" -v g="$((g1 - g0))" \
		-v w="$w1" -v ns="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" -v n="$(nproc)" \
		'BEGIN {secs = ns / 1e9; cap = n * secs * hz; if (s < 0) s = 0; o = b - s - m - g - w; if (o < 0) o = 0;
			printf "%s %d %.0f %.0f %.0f %.0f %.0f %.0f\n", c, r, 100 * m / cap, 100 * s / cap, 100 * g / cap, 100 * w / cap, 100 * o / cap, 100 * b / cap}' >>"$CPU_RESULTS"
	log "round $round/$ROUNDS: $cfg: wrk done; waiting for the go clients"
	for n in "${CLIENT_PIDS[@]}"; do wait "$n" || true; done
	local ok=0 fail=0 times=""
	for n in $(seq "$CLIENTS"); do
		read -r c t <"$dir/$n.result"
		times+="$t "
		if ((c == 0)); then ok=$((ok + 1)); else
			fail=$((fail + 1))
			cp "$dir/$n.log" "$LOGS/client-failed-$cfg-$round-$n.log"
		fi
	done
	echo "$cfg $round $ok $fail $times" >>"$CLIENT_RESULTS"
	local n5xx=0 retried=0
	if [[ $cfg == s3* ]]; then
		kill -USR1 "$NGINX_PID" 2>/dev/null || true # reopen: flushes the buffered log
		sleep 1.5
		read -r n5xx retried < <(awk '$1 >= 500 {e++} /, / {r++} END {print e + 0, r + 0}' "$OUT/nginx-replicas/access.log")
		cp "$OUT/nginx-replicas/access.log" "$LOGS/access-$cfg-$round.log"
	fi
	echo "$cfg $round $n5xx $retried" >>"$NGINX_RESULTS"
	log "round $round/$ROUNDS: $cfg: $ok go clients ok, $fail failed; nginx 5xx $n5xx, retried $retried"
	stop_config
	chmod -R u+w "$dir"
	rm -rf "$dir"
}

# warm_gocache: one unmeasured client build against the disk server, so
# that the measured clients find every package compiled.
warm_gocache() {
	local dir
	log "warming the go build cache $GOCACHE_DIR"
	start_config disk
	dir=$(mktemp -d "$OUT/clients.XXXXXX")
	TMPDIRS+=("$dir")
	CLIENT_PIDS=()
	CLIENTS=1 run_clients "$dir"
	wait "${CLIENT_PIDS[@]}" || true
	read -r c t <"$dir/1.result"
	((c == 0)) || die "warm-up build failed: $(cat "$dir/1.log")"
	stop_config
	chmod -R u+w "$dir"
	rm -rf "$dir"
}

# ---- report ----


# field CONFIG KIND NAME: the values of NAME=… in the wrk results of CONFIG and KIND, one a line.
field() {
	awk -v c="$1" -v k="$2" -v f="$3" '$1 == c && $3 == k {for (i = 4; i <= NF; i++) {split($i, kv, "="); if (kv[1] == f) print kv[2]}}' "$WRK_RESULTS"
}

report() {
	local cfg k req mbs p50 p99 errs
	echo
	echo "wrk: $CONNS connections for $DURATION (info $((CONNS / 3)), mod $((CONNS / 3)), zip $((CONNS - 2 * (CONNS / 3))); a random file of the"
	echo "kind per request, among $(wc -l <"$LOGS/paths.info") .info, $(wc -l <"$LOGS/paths.mod") .mod, $(wc -l <"$LOGS/paths.zip") .zip), beside $CLIENTS go clients; medians of $ROUNDS rounds;"
	echo "errors = wrk's non-2xx answers + socket errors (timeout 30 s), summed over the rounds; MB = 10^6 bytes"
	echo
	printf '%-8s %-5s %9s %9s %9s %9s %7s\n' config kind "req/s" "MB/s" "p50 ms" "p99 ms" errors
	for cfg in $CONFIGS; do
		for k in "${KINDS[@]}"; do
			req=$(paste -d' ' <(field "$cfg" "$k" requests) <(field "$cfg" "$k" duration_us) | awk '{print $1 / ($2 / 1e6)}' | median)
			mbs=$(paste -d' ' <(field "$cfg" "$k" bytes) <(field "$cfg" "$k" duration_us) | awk '{print $1 / $2}' | median)
			p50=$(field "$cfg" "$k" p50_us | awk '{print $1 / 1000}' | median)
			p99=$(field "$cfg" "$k" p99_us | awk '{print $1 / 1000}' | median)
			errs=$(paste -d' ' <(field "$cfg" "$k" status_errors) <(field "$cfg" "$k" socket_errors) | awk '{e += $1 + $2} END {print e + 0}')
			printf '%-8s %-5s %9.0f %9.1f %9.1f %9.1f %7s\n' "$cfg" "$k" "$req" "$mbs" "$p50" "$p99" "$errs"
			MBS[$cfg,$k]=$mbs
		done
	done
	echo
	echo "go clients: $CLIENTS in parallel per run, each with a fresh module cache: go build ${CLIENT_PACKAGES[*]}"
	echo "in bench/k8sproject (its main package's imports; the build cache warm: fetch, extract, hash, no link)"
	printf '%-8s %5s %6s %9s %7s\n' config ok failed "median s" "max s"
	for cfg in $CONFIGS; do
		local ok f times
		read -r ok f < <(awk -v c="$cfg" '$1 == c {ok += $3; f += $4} END {print ok + 0, f + 0}' "$CLIENT_RESULTS")
		times=$(awk -v c="$cfg" '$1 == c {for (i = 5; i <= NF; i++) print $i}' "$CLIENT_RESULTS")
		printf '%-8s %5s %6s %9s %7s\n' "$cfg" "$ok" "$f" "$(median <<<"$times")" "$(sort -g <<<"$times" | tail -1)"
	done
	echo
	echo "nginx (s3 configurations): answers with status >= 500, and requests it retried on another replica, summed"
	awk '$1 ~ /^s3/ {e[$1] += $3; r[$1] += $4} END {for (c in e) printf "  %-8s 5xx %d, retried %d\n", c, e[c], r[c]}' "$NGINX_RESULTS" | sort
	echo
	echo "CPU during the wrk window, % of all $(nproc) CPUs (median of the rounds): minio, modferry (all replicas; in"
	echo "s3-kill the killed one until its kill), nginx, wrk, other (go clients, the kernel's loopback work, other users)"
	printf '%-8s %6s %9s %6s %6s %6s %6s\n' config minio modferry nginx wrk other busy
	for cfg in $CONFIGS; do
		printf '%-8s' "$cfg"
		for i in 3 4 5 6 7 8; do
			printf ' %*s' $((i == 4 ? 9 : 6)) "$(awk -v c="$cfg" -v i="$i" '$1 == c {print $i}' "$CPU_RESULTS" | median)"
		done
		echo
	done
	echo
	echo "load average (1, 5, 15 min) at the start of each run:"
	printf '%s' "$LOADS" | sed 's/^/  /'
	echo
	if [[ " $CONFIGS " == *" s3 "* && " $CONFIGS " == *" disk "* ]]; then
		printf 'zip MB/s, s3 replicas / single disk: %s (target >= 0.5)\n' "$(ratio "${MBS[s3,zip]}" "${MBS[disk,zip]}")"
	fi
}

environment() {
	echo "modferry replicas benchmark — $(date -u +%Y-%m-%dT%H:%MZ)"
	echo "CPU: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(nproc) CPUs; kernel $(uname -r); $(free -g | awk '/^Mem:/ {print $2}') GiB memory"
	echo "GOMAXPROCS: ${GOMAXPROCS:-not set (the servers use all $(nproc) CPUs)}; $(go version | cut -d' ' -f3); $("$NGINX" -v 2>&1 | sed 's|.*: ||'); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2); minio $(sed -n 's/^minio_version=\([^ ]*\) .*/\1/p' "$ROOT/scripts/test.sh") (go install)"
	echo "load average at start: $(loadavg)"
	echo "replicas: zip cache $([[ $ZIP_CACHE == 1 ]] && echo "on (--zip-cache-dir, one fresh directory per replica and run)" || echo off);" \
		"$([[ $WARM == 1 ]] && echo "every file fetched once from each server before the warm-up" || echo "servers start cold")"
}

main() {
	setup_tools
	build
	fill_store
	s3_env
	write_nginx_conf
	write_paths
	environment
	[[ " $CONFIGS " == *" s3"* ]] && start_minio
	warm_gocache
	WRK_RESULTS=$LOGS/wrk-results.txt CPU_RESULTS=$LOGS/cpu-results.txt
	CLIENT_RESULTS=$LOGS/client-results.txt NGINX_RESULTS=$LOGS/nginx-results.txt
	: >"$WRK_RESULTS"
	: >"$CPU_RESULTS"
	: >"$CLIENT_RESULTS"
	: >"$NGINX_RESULTS"
	LOADS=""
	declare -gA MBS
	local cfgs round i n
	read -ra cfgs <<<"$CONFIGS"
	n=${#cfgs[@]}
	for round in $(seq "$ROUNDS"); do
		for i in $(seq 0 $((n - 1))); do
			run_once "${cfgs[$(((i + round - 1) % n))]}" "$round"
		done
	done
	report
}

main "$@"
