#!/usr/bin/env bash
# s3import.sh: the bench bundle (bench/k8sproject) imported into a store on
# MinIO, and the inventory of that store, by this tree's modferry and by
# one built from $BASE, in interleaved rounds.
#
#   import       modferry import --store s3://BUCKET/PREFIX of the bundle
#                into a fresh prefix (signature, hashes, proofs, commit:
#                every write a request to MinIO)
#   inventory    modferry inventory of that store (a listing per module
#                and two reads per version)
#
# MinIO runs on loopback with four drives in a temporary directory, on the
# same two cores: its CPU is part of every figure, as a real deployment's
# network and object store would be. Medians of wall seconds, every run
# shown, and the ratio to $BASE round by round.
#
# Env: RUNS (default 5), BASE (git ref, default main), PORT_BASE (default
# 19400: MinIO listens on PORT_BASE+6 and +7). Needs the bundle that
# bench/import.sh makes (bench/_out/import/b.tar.zst, key.pub) and MinIO
# (see find_minio in lib.sh).
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$BENCH")
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"
RUNS=${RUNS:-5}
BASE=${BASE:-main}
PORT_BASE=${PORT_BASE:-19400}
# shellcheck disable=SC2034 # both read by run_minio and s3_env (lib.sh)
MINIO_ADDR=127.0.0.1:$((PORT_BASE + 6)) MINIO_CONSOLE=127.0.0.1:$((PORT_BASE + 7))
IMP=$BENCH/_out/import
OUT=$BENCH/_out/s3import
LOGS=$OUT/logs
[[ -f $IMP/b.tar.zst && -f $IMP/key.pub ]] || die "no bench bundle: run bench/import.sh first (it makes $IMP/b.tar.zst)"
mkdir -p "$OUT" "$LOGS"
s3_bench_start "$OUT" "$BASE" "$(mktemp -d "$OUT/minio.XXXXXX")" remove
"$OUT/modferry" inventory --store s3://bench/none --create-bucket >/dev/null

# timed NAME command...: appends the wall seconds to the array NAME.
timed() {
	local name=$1
	shift
	/usr/bin/time -f '%e' -o "$OUT/t" "$@" >/dev/null 2>>"$LOGS/commands.log" || die "$* failed; see $LOGS/commands.log"
	eval "$name+=($(cat "$OUT/t"))"
}
declare -a IMP_NEW IMP_BASE INV_NEW INV_BASE LOAD
for i in $(seq "$RUNS"); do
	LOAD+=("$(cut -d' ' -f1 /proc/loadavg)")
	log "round $i/$RUNS (load ${LOAD[-1]})"
	for which in NEW BASE; do
		bin=$OUT/modferry
		[[ $which == BASE ]] && bin=$OUT/modferry.base
		store=s3://bench/r$i-${which,,}
		timed "IMP_$which" "$bin" import --pubkey "$IMP/key.pub" --store "$store" "$IMP/b.tar.zst"
		timed "INV_$which" "$bin" inventory --store "$store" -o "$OUT/inventory.json"
	done
done

cat <<EOT

modferry S3 import benchmark — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(uname -r), $(go version | cut -d' ' -f3)
MinIO: $("$MINIO" --version 2>/dev/null | head -1), four drives on $(df --output=fstype "$S3B_DATA" | tail -1), loopback
bundle: bench/k8sproject, $(stat -c %s "$IMP/b.tar.zst") bytes; $RUNS interleaved rounds; load average (1 min) per round: ${LOAD[*]}

$(printf '%-26s %8s   %s' "" "median s" runs)
$(printf '%-26s %8s   %s' "import, this tree" "$(med "${IMP_NEW[@]}")" "${IMP_NEW[*]}")
$(printf '%-26s %8s   %s' "import, $BASE" "$(med "${IMP_BASE[@]}")" "${IMP_BASE[*]}")
$(printf '%-26s %8s   %s' "inventory, this tree" "$(med "${INV_NEW[@]}")" "${INV_NEW[*]}")
$(printf '%-26s %8s   %s' "inventory, $BASE" "$(med "${INV_BASE[@]}")" "${INV_BASE[*]}")

this tree / $BASE, round by round: import $(ratios IMP_NEW IMP_BASE); inventory $(ratios INV_NEW INV_BASE)
load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)
EOT
