#!/usr/bin/env bash
# import.sh: modferry import of the bench bundle (bench/k8sproject) against
# its floor and the manual routine (issue 14, section 1).
#
#   modferry import       the bundle into an empty store (signature, SHA-256,
#                         zip rules, h1:, checksum-database proofs, commit)
#   base import           the same with modferry built from $BASE (a git ref,
#                         default main; BASE= to skip)
#   re-import             the same bundle again into that store: a no-op
#                         once its digest is found in the import history
#   manual                tar -I zstd -xf + sha256sum -c of the same module
#                         files (GOMODCACHE/cache/download as tar.zst)
#   floor                 CPU-seconds of the work no import can skip
#                         (bench/importfloor: zstd, SHA-256 of every member,
#                         inflate + SHA-256 of every zip file), divided by
#                         the CPUs
#
# Rounds are interleaved (import, base, manual, floor; again), because the
# machine is shared; medians, with every run and the load average of each
# round. Wall seconds and CPU seconds (user+system, children included) are
# both shown: on a loaded machine the wall time measures the share of the
# CPUs a command got as much as the command.
# Env: RUNS (default 5), BASE (default main). Output under bench/_out/import;
# the bundle and the manual tarballs are made once (network) and reused
# (bench/bundlesize.sh reads them too).
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$BENCH")
OUT=$BENCH/_out/import
RUNS=${RUNS:-5}
BASE=${BASE-main}
PROJ=$BENCH/k8sproject
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"
mkdir -p "$OUT"
cd "$OUT"

build_modferry "$OUT"
[[ -z $BASE ]] || build_modferry "$OUT" "$BASE"
build_tool "$OUT" importfloor
MF=$OUT/modferry
[[ -f key ]] || "$MF" keygen -o key --no-passphrase >/dev/null

TMP=$OUT/tmp
cleanup() { chmod -R u+w "$TMP" 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
cleanup
mkdir -p "$TMP"

if [[ ! -f b.tar.zst ]]; then
	echo "== exporting the bench bundle" >&2
	"$MF" export --sign-key key -o b.tar.zst "$PROJ" >/dev/null
fi
if [[ ! -f manual.tar.zst || ! -f manual.tar.gz ]]; then
	echo "== the manual routine's tree (go mod download all + sha256sum)" >&2
	d=$TMP/m
	mkdir -p "$d/proj"
	cp "$PROJ"/go.mod "$PROJ"/go.sum "$PROJ"/main.go "$d/proj/"
	(
		cd "$d/proj"
		export GOPATH=$d/gopath GOMODCACHE=$d/gopath/pkg/mod GOCACHE=$d/gocache GOFLAGS=-mod=mod
		go mod download all
		cd "$GOMODCACHE/cache/download"
		find . -type f ! -name '*.lock' ! -name '*.partial' ! -name SHA256SUMS -print0 | sort -z | xargs -0 sha256sum > SHA256SUMS
		tar -I 'zstd -T0' -cf "$OUT/manual.tar.zst" -C "$GOMODCACHE/cache" download
		tar czf "$OUT/manual.tar.gz" -C "$GOMODCACHE/cache" download # for bench/bundlesize.sh
	) >/dev/null 2>&1
	chmod -R u+w "$d"; rm -rf "$d"
fi

# timed NAME command...: appends "wall cpu" to the arrays NAME_W, NAME_C.
timed() {
	local name=$1; shift
	/usr/bin/time -f '%e %U %S %M' -o "$TMP/t" "$@" >/dev/null
	read -r w u s m < "$TMP/t"
	eval "${name}_W+=($w); ${name}_C+=($(awk -v u="$u" -v s="$s" 'BEGIN{print u+s}')); ${name}_M+=($m)"
}
declare -a IMP_W IMP_C IMP_M RE_W RE_C RE_M BAS_W BAS_C BAS_M BRE_W BRE_C BRE_M MAN_W MAN_C MAN_M FLOOR FLOORCPU LOAD
# Every run writes into a directory of its own, and nothing is deleted
# until the script ends: on ext4 without a journal (this machine kind's
# root file system) the inode allocator skips the inodes deleted in the
# last 5 to 305 seconds one by one (fs/ext4/ialloc.c, recently_deleted),
# so deleting each run's thousand files before the next made every later
# run slower than the one before (system CPU 0.4 s in the first round,
# 1.9 s in the sixth), whichever command ran.
for i in $(seq "$RUNS"); do
	LOAD+=("$(cut -d' ' -f1 /proc/loadavg)")
	R=$TMP/r$i
	mkdir -p "$R/x"; sync
	echo "== round $i/$RUNS (load ${LOAD[-1]}): import" >&2
	timed IMP "$MF" import --pubkey key.pub --store "$R/store" b.tar.zst
	timed RE "$MF" import --pubkey key.pub --store "$R/store" b.tar.zst
	if [[ -n $BASE ]]; then
		echo "== round $i/$RUNS: import, $BASE" >&2
		sync
		timed BAS "$OUT/modferry.base" import --pubkey key.pub --store "$R/base" b.tar.zst
		timed BRE "$OUT/modferry.base" import --pubkey key.pub --store "$R/base" b.tar.zst
	fi
	echo "== round $i/$RUNS: manual tar -xf + sha256sum -c" >&2
	sync
	timed MAN bash -c "tar -I zstd -xf '$OUT/manual.tar.zst' -C '$R/x' && cd '$R/x/download' && sha256sum --quiet -c SHA256SUMS"
	sync
	echo "== round $i/$RUNS: floor" >&2
	read -r _ z _ s _ h _ cpus _ fl < <(ROUNDS=1 "$OUT/importfloor" b.tar.zst)
	FLOOR+=("$fl"); FLOORCPU+=("$(awk -v a="$z" -v b="$s" -v c="$h" 'BEGIN{print a+b+c}')")
done

IW=$(med "${IMP_W[@]}") IC=$(med "${IMP_C[@]}") MW=$(med "${MAN_W[@]}") MC=$(med "${MAN_C[@]}")
F=$(med "${FLOOR[@]}") FC=$(med "${FLOORCPU[@]}")
NMOD=$(tar --zstd -xOf b.tar.zst MANIFEST.json | grep -c '"modHash"')
row() { # label NAME: the medians of NAME_W and NAME_C, and the runs of NAME_W
	local w="$2_W[@]" c="$2_C[@]"
	printf '%-34s %8.2f %8.2f   %s | %s\n' "$1" "$(med "${!w}")" "$(med "${!c}")" "$(echo "${!w}")" "$(echo "${!c}")"
}

cat <<EOT

modferry import benchmark — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(go version | cut -d' ' -f3)
file system: $(findmnt -no FSTYPE,OPTIONS -T "$OUT" 2>/dev/null || echo unknown)
bundle: bench/k8sproject, $NMOD module versions, $(stat -c %s b.tar.zst) bytes
$RUNS interleaved rounds; load average (1 min) at each round: ${LOAD[*]}

                                    wall s    CPU s   runs: wall | CPU
EOT
row "modferry import" IMP
[[ -n $BASE ]] && row "modferry import ($BASE)" BAS
row "re-import (no-op)" RE
[[ -n $BASE ]] && row "re-import (no-op, $BASE)" BRE
row "manual (tar -xf + sha256sum -c)" MAN
printf '%-34s %8.2f %8.2f   %s | %s\n' "floor (CPU s / $(nproc) CPUs)" "$F" "$FC" "${FLOOR[*]}" "${FLOORCPU[*]}"
cat <<EOT

peak RSS import $(awk -v k="$(maxof "${IMP_M[@]}")" 'BEGIN{printf "%.0f MB", k/1024}')$([[ -n $BASE ]] && awk -v k="$(maxof "${BAS_M[@]}")" -v b="$BASE" 'BEGIN{printf ", %s %.0f MB", b, k/1024}')

                                   median   targets
import wall / manual wall          $(ratio "$IW" "$MW")     <= 1.0
import wall / floor                $(ratio "$IW" "$F")     <= 1.5
import CPU / floor CPU             $(ratio "$IC" "$FC")
manual wall / floor                $(ratio "$MW" "$F")
EOT
if [[ -n $BASE ]]; then
	BW=$(med "${BAS_W[@]}") BC=$(med "${BAS_C[@]}")
	echo "import wall / $BASE import wall      $(ratio "$IW" "$BW")"
	echo "import CPU / $BASE import CPU        $(ratio "$IC" "$BC")"
fi
