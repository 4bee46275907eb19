#!/usr/bin/env bash
# bundle.sh: modferry export and import against the manual routine people
# use today, on the same module set (bench/k8sproject, 150+ modules).
#
#   (a) export: modferry export  vs  go mod download all (fresh GOMODCACHE)
#       + tar czf cache/download + sha256sum of every file — wall time and
#       bundle size (a tar.zst of the same tree is shown for reference)
#   (b) import: modferry import (signature, SHA-256, h1:, zip rules,
#       atomic commit)  vs  tar -I zstd -xf + sha256sum -c of the same bytes
#   (c) peak RSS of export and import
#
# Runs are interleaved (A B A B ...) because the machine is noisy; medians.
# Env: RUNS (default 3). Everything lands under bench/_out/bundle.
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$BENCH")
OUT=$BENCH/_out/bundle
RUNS=${RUNS:-3}
PROJ=$BENCH/k8sproject
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"
mkdir -p "$OUT"
cd "$OUT"

build_modferry "$OUT"
build_tool "$OUT" maxrss
MF=$OUT/modferry
[[ -f key ]] || "$MF" keygen -o key --no-passphrase >/dev/null

TMP=$OUT/tmp
rm -rf "$TMP"
mkdir -p "$TMP"
SHM=/dev/shm/modferry-bench-$$
cleanup() { chmod -R u+w "$TMP" "$SHM" 2>/dev/null || true; rm -rf "$TMP" "$SHM"; }
trap cleanup EXIT

manual_export() { # $1 = run dir, $2 = where GOMODCACHE goes (default: the run dir); leaves manual.tar.gz
	local d=$1 c=${2:-$1}
	mkdir -p "$d/proj"
	cp "$PROJ"/go.mod "$PROJ"/go.sum "$PROJ"/main.go "$d/proj/"
	(
		cd "$d/proj"
		export GOPATH=$c/gopath GOMODCACHE=$c/gopath/pkg/mod GOCACHE=$d/gocache GOFLAGS=-mod=mod
		go mod download all
		cd "$GOMODCACHE/cache/download"
		find . -type f ! -name '*.lock' ! -name '*.partial' ! -name SHA256SUMS -print0 | sort -z | xargs -0 sha256sum > SHA256SUMS
		tar czf "$d/manual.tar.gz" -C "$GOMODCACHE/cache" download
	)
}

echo "== warming the upstream side (one export of each kind)" >&2
"$MF" export --sign-key key -o "$TMP/warm.tar.zst" "$PROJ" >/dev/null
manual_export "$TMP/warm" >/dev/null 2>&1
# the manual routine's bytes, compressed with zstd, for the import comparison
tar -I 'zstd -T0' -cf "$OUT/manual.tar.zst" -C "$TMP/warm/gopath/pkg/mod/cache" download
ZSTREF=$(stat -c %s "$OUT/manual.tar.zst")
chmod -R u+w "$TMP/warm"; rm -rf "$TMP/warm"

declare -a EXP MAN MANT IMP MANI EXPRSS EXPTREE IMPRSS
BSIZE=0 GZSIZE=0
# Every run writes into a directory of its own (on disk; /dev/shm is
# emptied), and nothing on disk is deleted until the script ends: on ext4
# without a journal (this machine kind's root file system) the inode
# allocator skips the inodes deleted in the last 5 to 305 seconds one by
# one (fs/ext4/ialloc.c, recently_deleted), so deleting a run's files (the
# manual routine's module cache: thousands) slowed every run after it.
for i in $(seq "$RUNS"); do
	R=$TMP/r$i
	mkdir -p "$R"
	echo "== round $i/$RUNS: export" >&2
	"$OUT/maxrss" "$TMP/t" "$MF" export --sign-key key -o "$R/b.tar.zst" "$PROJ" >/dev/null
	read -r s tr r < "$TMP/t"; EXP+=("$s"); EXPRSS+=("$r"); EXPTREE+=("$tr")
	BSIZE=$(stat -c %s "$R/b.tar.zst")

	echo "== round $i/$RUNS: manual export" >&2
	"$OUT/maxrss" "$TMP/t" bash -c "$(declare -f manual_export); PROJ=$PROJ; manual_export $R/m" >/dev/null 2>&1
	read -r s _ _ < "$TMP/t"; MAN+=("$s")
	GZSIZE=$(stat -c %s "$R/m/manual.tar.gz")

	echo "== round $i/$RUNS: manual export, GOMODCACHE in memory (/dev/shm)" >&2
	mkdir -p "$SHM"
	"$OUT/maxrss" "$TMP/t" bash -c "$(declare -f manual_export); PROJ=$PROJ; manual_export $R/mt $SHM" >/dev/null 2>&1
	read -r s _ _ < "$TMP/t"; MANT+=("$s")
	chmod -R u+w "$SHM"; rm -rf "$SHM"

	echo "== round $i/$RUNS: import" >&2
	sync
	"$OUT/maxrss" "$TMP/t" "$MF" import --pubkey key.pub --store "$R/store" "$R/b.tar.zst" >/dev/null
	read -r s _ r < "$TMP/t"; IMP+=("$s"); IMPRSS+=("$r")

	echo "== round $i/$RUNS: manual extract + sha256sum -c" >&2
	mkdir -p "$R/x"
	sync
	"$OUT/maxrss" "$TMP/t" bash -c "tar -I zstd -xf '$OUT/manual.tar.zst' -C '$R/x' && cd '$R/x/download' && sha256sum --quiet -c SHA256SUMS" >/dev/null
	read -r s _ _ < "$TMP/t"; MANI+=("$s")
done

E=$(med "${EXP[@]}") M=$(med "${MAN[@]}") MT=$(med "${MANT[@]}") I=$(med "${IMP[@]}") MI=$(med "${MANI[@]}")
ER=$(maxof "${EXPRSS[@]}") ET=$(maxof "${EXPTREE[@]}") IR=$(maxof "${IMPRSS[@]}")
NMOD=$(tar --zstd -xOf "$TMP/r1/b.tar.zst" MANIFEST.json | grep -c '"modHash"')

cat <<EOT

modferry bundle benchmark — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(go version | cut -d' ' -f3), bench/k8sproject ($NMOD module versions)
$RUNS interleaved rounds; medians; runs in order after each figure

                                      median s   runs
export   modferry export               $(printf '%8.2f' "$E")   ${EXP[*]}
         manual (download+tar czf+sha) $(printf '%8.2f' "$M")   ${MAN[*]}
         manual, GOMODCACHE in /dev/shm $(printf '%7.2f' "$MT")   ${MANT[*]}
import   modferry import               $(printf '%8.2f' "$I")   ${IMP[*]}
         manual (tar -xf + sha256sum -c)$(printf '%7.2f' "$MI")   ${MANI[*]}

size     modferry bundle (tar.zst)     $(awk -v b="$BSIZE" 'BEGIN{printf "%8.1f MB", b/1e6}')
         manual tar.gz                 $(awk -v b="$GZSIZE" 'BEGIN{printf "%8.1f MB", b/1e6}')
         manual tree as tar.zst        $(awk -v b="$ZSTREF" 'BEGIN{printf "%8.1f MB", b/1e6}')  (reference)

peak RSS modferry export              $(awk -v k="$ER" 'BEGIN{printf "%6.0f MB", k/1024}')  (getrusage incl. waited-for children: $(awk -v k="$ET" 'BEGIN{printf "%.0f MB", k/1024}'))
         modferry import               $(awk -v k="$IR" 'BEGIN{printf "%6.0f MB", k/1024}')

targets
EOT
t() { # name value op limit
	local pass; pass=$(awk -v v="$2" -v l="$4" -v op="$3" 'BEGIN{print ((op=="<=" && v<=l) || (op=="<" && v<l)) ? "PASS" : "MISS"}')
	printf '  %-44s %7.3f  %s %-5s %s\n' "$1" "$2" "$3" "$4" "$pass"
}
t "export time modferry/manual" "$(awk -v a="$E" -v b="$M" 'BEGIN{print a/b}')" "<=" 0.5
t "  (vs manual with GOMODCACHE in /dev/shm)" "$(awk -v a="$E" -v b="$MT" 'BEGIN{print a/b}')" "<=" 0.5
t "bundle size modferry/tar.gz" "$(awk -v a="$BSIZE" -v b="$GZSIZE" 'BEGIN{print a/b}')" "<=" 0.96
t "import time modferry/manual" "$(awk -v a="$I" -v b="$MI" 'BEGIN{print a/b}')" "<=" 1.0
t "peak RSS export, MB" "$(awk -v k="$ER" 'BEGIN{print k/1024}')" "<" 200
t "peak RSS import, MB" "$(awk -v k="$IR" 'BEGIN{print k/1024}')" "<" 200
