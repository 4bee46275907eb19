#!/usr/bin/env bash
# s3journal.sh: a command that appends to the audit journal of a store on
# MinIO (modferry token add: its begin and end entries) when that journal
# holds 1,000, 10,000 and 100,000 entries, by this tree's modferry and by
# one built from $BASE, in interleaved rounds.
#
# A store kept in an object store keeps its audit log as one object per
# entry (audit.StoreJournal); every command that changes the store, and
# every server that starts, first finds the journal's last entry. The
# journals are written once per size (scaletool auditgen, then journalput:
# valid hash chains of a busy server's entries) into a MinIO whose drives
# are kept under bench/_out/s3journal/minio, so that later runs reuse them
# (writing 100,000 objects takes MinIO on two cores ~7 minutes); each
# run's commands add a few entries to them. Then, per size, the read of
# the journal a starting server's catalog makes: without the checkpoint
# (as on a store no server has read yet) and from it.
#
# MinIO runs on loopback with four drives in a temporary directory, on the
# same two cores. Medians of wall seconds, every run shown, and the ratio
# to $BASE round by round.
#
# Env: RUNS (default 5), BASE (git ref, default main), SIZES (default
# "1000 10000 100000"), PORT_BASE (default 19400: MinIO listens on
# PORT_BASE+6 and +7). Needs MinIO (see find_minio in lib.sh).
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$BENCH")
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"
RUNS=${RUNS:-5}
BASE=${BASE:-main}
SIZES=${SIZES:-1000 10000 100000}
PORT_BASE=${PORT_BASE:-19400}
# shellcheck disable=SC2034 # both read by run_minio and s3_env (lib.sh)
MINIO_ADDR=127.0.0.1:$((PORT_BASE + 6)) MINIO_CONSOLE=127.0.0.1:$((PORT_BASE + 7))
OUT=$BENCH/_out/s3journal
LOGS=$OUT/logs
mkdir -p "$OUT" "$LOGS"
DATA=$OUT/minio
[[ -d $DATA ]] || rm -f "$OUT"/journal-*.done
mkdir -p "$DATA"
s3_bench_start "$OUT" "$BASE" "$DATA" keep
(cd "$ROOT" && go build -o "$OUT/scaletool" ./bench/scaletool)

for n in $SIZES; do
	[[ ! -f $OUT/journal-$n.done ]] || continue
	[[ -f $OUT/log-$n/log.jsonl ]] || "$OUT/scaletool" auditgen "$OUT/log-$n" "$n"
	log "writing a journal of $n entries into MinIO"
	t0=$(date +%s.%N)
	"$OUT/scaletool" journalput "s3://journal/n$n" "$OUT/log-$n"
	log "  $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') s"
	touch "$OUT/journal-$n.done"
done

# timed NAME command...: appends the wall seconds to the array NAME.
timed() {
	local name=$1
	shift
	/usr/bin/time -f '%e' -o "$OUT/t" "$@" >/dev/null 2>>"$LOGS/commands.log" || die "$* failed; see $LOGS/commands.log"
	eval "$name+=($(cat "$OUT/t"))"
}
declare -a LOAD
RUNID=$(date +%s) # token names must be new in a kept store
for n in $SIZES; do declare -a "NEW_$n=()" "BASE_$n=()"; done
for i in $(seq "$RUNS"); do
	LOAD+=("$(cut -d' ' -f1 /proc/loadavg)")
	log "round $i/$RUNS (load ${LOAD[-1]})"
	for n in $SIZES; do
		for which in NEW BASE; do
			bin=$OUT/modferry
			[[ $which == BASE ]] && bin=$OUT/modferry.base
			timed "${which}_$n" "$bin" token add --store "s3://journal/n$n" --name "r$i-${which,,}-$RUNID" --scope read
		done
	done
done
# The catalog of a server that starts reads the journal's publishes and
# import signers: whole when the store has no checkpoint of them yet
# (-fresh), else from the checkpoint the first read wrote.
declare -A IDX
for n in $SIZES; do
	log "reading the journal of $n entries as a starting server's catalog does"
	IDX[$n,first]=$("$OUT/scaletool" auditindex -fresh "s3://journal/n$n")
	IDX[$n,next]=$("$OUT/scaletool" auditindex "s3://journal/n$n")
done
log "checking the journals' chains"
for n in $SIZES; do
	"$OUT/modferry" audit verify --store "s3://journal/n$n" >>"$LOGS/commands.log" 2>&1 || die "the journal of $n entries fails audit verify; see $LOGS/commands.log"
done

echo
echo "modferry S3 audit journal benchmark — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(uname -r), $(go version | cut -d' ' -f3)"
echo "MinIO: $("$MINIO" --version 2>/dev/null | head -1), four drives on $(df --output=fstype "$DATA" | tail -1), loopback"
echo "command: modferry token add (two journal entries); $RUNS interleaved rounds; load average (1 min) per round: ${LOAD[*]}"
echo
printf '%-10s %-14s %8s   %s\n' entries build "median s" runs
for n in $SIZES; do
	a="NEW_${n}[*]" b="BASE_${n}[*]"
	# shellcheck disable=SC2086 # the runs, one word each
	printf '%-10s %-14s %8s   %s\n' "$n" "this tree" "$(med ${!a})" "${!a}"
	# shellcheck disable=SC2086
	printf '%-10s %-14s %8s   %s\n' "" "$BASE" "$(med ${!b})" "${!b}"
done
echo
for n in $SIZES; do echo "$n entries: this tree / $BASE, round by round: $(ratios "NEW_$n" "BASE_$n")"; done
echo
echo "the catalog's read of the journal at start-up (scaletool auditindex; seconds, objects read, names listed):"
printf '%-10s %-28s %s\n' entries "no checkpoint (first server)" "from the checkpoint (every later start)"
for n in $SIZES; do
	read -r s1 g1 l1 _ <<<"${IDX[$n,first]}"
	read -r s2 g2 l2 _ <<<"${IDX[$n,next]}"
	printf '%-10s %-28s %s\n' "$n" "$s1 s, $g1 reads, $l1 names" "$s2 s, $g2 reads, $l2 names"
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
