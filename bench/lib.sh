# shellcheck shell=bash
# lib.sh: shell helpers the bench scripts share (sourced, not run).
# The sourcing script sets BENCH, BIN, STORE, UPSTREAM_CACHE, LOGS and PIDS as
# its functions need them.

# log and die report on stderr, die naming the script.
log() { printf '== %s\n' "$*" >&2; }
die() {
	printf '%s: %s\n' "$(basename "$0")" "$*" >&2
	exit 1
}

# forget_pid PID drops PID from PIDS (the processes the script ends on exit).
forget_pid() {
	local keep=() p
	for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
	PIDS=("${keep[@]}")
}

# wait_http URL PID NAME [LOG]: waits (up to 30 s) until URL answers 200
# while PID lives; LOG names where to look when it does not.
wait_http() {
	local _
	for _ in $(seq 600); do
		curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null && return 0
		kill -0 "$2" 2>/dev/null || die "$3 exited at start; see ${4:-$LOGS}"
		sleep 0.05
	done
	die "$3 did not answer $1"
}

# stop_pid PID: ends PID, waits for it and forgets it.
stop_pid() {
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	forget_pid "$1"
}

# port_busy HOST:PORT: something listens there.
port_busy() { (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; }

# median of the numbers on stdin, one per line ("n/a" for none).
median() { sort -g | awk '{a[NR] = $1} END {if (NR == 0) print "n/a"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

# fill_store fills the upstream module cache once from the real GOPROXY with
# bench/k8sproject's `go mod download all`, then imports it into the store.
# Both steps are redone when bench/k8sproject/go.sum changes.
fill_store() {
	local stamp
	stamp=$(cat "$BENCH/k8sproject/go.mod" "$BENCH/k8sproject/go.sum" | sha256sum | cut -c1-16)
	if [[ $(cat "$UPSTREAM_CACHE/.bench-stamp" 2>/dev/null) != "$stamp" ]]; then
		log "filling $UPSTREAM_CACHE from $(go env GOPROXY) (once)"
		chmod -R u+w "$UPSTREAM_CACHE" 2>/dev/null || true
		rm -rf "$UPSTREAM_CACHE"
		(cd "$BENCH/k8sproject" && GOMODCACHE=$UPSTREAM_CACHE GOFLAGS=-mod=mod go mod download all)
		echo "$stamp" >"$UPSTREAM_CACHE/.bench-stamp"
	fi
	if [[ $(cat "$STORE/.bench-stamp" 2>/dev/null) != "$stamp" ]]; then
		log "importing the upstream cache into $STORE"
		rm -rf "$STORE"
		"$BIN/modferry" import --store "$STORE" --cache-dir "$UPSTREAM_CACHE" >&2
		echo "$stamp" >"$STORE/.bench-stamp"
	fi
}

# find_minio sets MINIO: $MODFERRY_MINIO, else minio on PATH, else the
# binary scripts/test.sh builds into ${XDG_CACHE_HOME:-~/.cache}/modferry/minio/.
find_minio() {
	local v
	v=$(sed -n 's/^minio_version=\([^ ]*\) .*/\1/p' "$ROOT/scripts/test.sh")
	if [[ -n ${MODFERRY_MINIO:-} ]]; then
		MINIO=$MODFERRY_MINIO
	elif command -v minio >/dev/null; then
		MINIO=$(command -v minio)
	else
		MINIO=${XDG_CACHE_HOME:-$HOME/.cache}/modferry/minio/$v/minio
	fi
	[[ -x $MINIO ]] || die "no minio binary: run scripts/test.sh (it builds MinIO $v once) or set MODFERRY_MINIO"
}

# s3_env sets the AWS SDK's configuration of the S3 store for the MinIO at
# $MINIO_ADDR, isolated from the user's own.
s3_env() {
	export AWS_ENDPOINT_URL=http://$MINIO_ADDR AWS_REGION=us-east-1
	export AWS_ACCESS_KEY_ID=modferry-bench AWS_SECRET_ACCESS_KEY=modferry-bench-secret
	export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
	unset AWS_ENDPOINT_URL_S3 AWS_SESSION_TOKEN AWS_PROFILE
}

# run_minio DIR starts $MINIO at $MINIO_ADDR (console $MINIO_CONSOLE) on
# four drives under DIR, logging to $LOGS/minio.log, sets MINIO_PID and
# waits until it is healthy. s3_env must have run.
run_minio() {
	port_busy "$MINIO_ADDR" && die "$MINIO_ADDR is already in use; set PORT_BASE"
	MINIO_CI_CD=on MINIO_BROWSER=off MINIO_UPDATE=off MINIO_REGION=us-east-1 \
		MINIO_ROOT_USER=$AWS_ACCESS_KEY_ID MINIO_ROOT_PASSWORD=$AWS_SECRET_ACCESS_KEY \
		"$MINIO" server --address "$MINIO_ADDR" --console-address "$MINIO_CONSOLE" \
		--certs-dir "$1/certs" "$1/drive{1...4}" >>"$LOGS/minio.log" 2>&1 &
	MINIO_PID=$!
	wait_http "http://$MINIO_ADDR/minio/health/cluster" "$MINIO_PID" minio
}

# build_modferry OUT [REV]: this tree's modferry as OUT/modferry or, with
# REV (a git ref), the one of that commit as OUT/modferry.base (built from
# a `git archive` of it, so that the work tree is not touched). ROOT must
# be set.
build_modferry() {
	local src
	if [[ -z ${2:-} ]]; then
		log "building modferry"
		(cd "$ROOT" && CGO_ENABLED=0 go build -o "$1/modferry" ./cmd/modferry)
		return
	fi
	log "building modferry at $2"
	src=$(mktemp -d "$1/base-src.XXXXXX")
	git -C "$ROOT" archive "$2" | tar -x -C "$src"
	(cd "$src" && CGO_ENABLED=0 go build -o "$1/modferry.base" ./cmd/modferry)
	rm -rf "$src"
}

# build_pair OUT BASE builds this tree's modferry as OUT/modferry and the
# one of git ref BASE as OUT/modferry.base, for benchmarks that compare
# them in interleaved rounds.
build_pair() {
	build_modferry "$1"
	build_modferry "$1" "$2"
}

# build_tool OUT NAME builds the bench program bench/NAME as OUT/NAME.
build_tool() { (cd "$BENCH/$2" && CGO_ENABLED=0 go build -o "$1/$2" .); }

# pair_bin OUT WHICH: the binary build_pair built into OUT for WHICH (new:
# this tree; base: BASE).
pair_bin() { if [[ $2 == base ]]; then echo "$1/modferry.base"; else echo "$1/modferry"; fi; }

# med VALUES...: their median.
med() { printf '%s\n' "$@" | median; }

# maxof VALUES...: the largest.
maxof() { printf '%s\n' "$@" | sort -g | tail -1; }

# ratio A B [DIGITS]: A / B with DIGITS decimals (default 2); n/a when B is 0.
ratio() { awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN {if (b > 0) printf "%.*f", d, a / b; else print "n/a"}'; }

# ratios NAME_A NAME_B: the per-round ratios A/B of two arrays of runs,
# their median first, then each round's in brackets.
ratios() {
	local a="$1[@]" b="$2[@]" out=() i
	local -a av=("${!a}") bv=("${!b}")
	for i in "${!av[@]}"; do out+=("$(awk -v x="${av[$i]}" -v y="${bv[$i]}" 'BEGIN {printf "%.2f", x / y}')"); done
	printf '%s (%s)' "$(med "${out[@]}")" "${out[*]}"
}

# s3_bench_start OUT BASE DATA keep|remove is how the S3 benchmarks
# (s3import.sh, s3journal.sh, s3refresh.sh) begin: it checks for curl and
# MinIO, ends every process in PIDS on exit (and removes DATA then, unless
# told to keep it), builds this tree's modferry and BASE's (build_pair),
# and starts MinIO on drives under DATA (s3_env, run_minio). LOGS,
# MINIO_ADDR and MINIO_CONSOLE must be set.
s3_bench_start() {
	S3B_DATA=$3 S3B_KEEP=$4
	command -v curl >/dev/null || die "curl is needed"
	find_minio
	PIDS=()
	trap s3_bench_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	build_pair "$1" "$2"
	s3_env
	run_minio "$3"
	PIDS+=("$MINIO_PID")
}

s3_bench_cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	[[ $S3B_KEEP == keep ]] || rm -rf "$S3B_DATA"
}
