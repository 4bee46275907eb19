#!/usr/bin/env bash
# bundlesize.sh: what member order and zstd settings give for the size of
# the bench bundle (issue 14, section 4), against the manual tar.gz of the
# same module set. Reads the bundle and the manual tarball bench/import.sh
# makes (bench/_out/import; run it first). Every variant re-encodes the
# same members (bench/bundlesize); the reference zstd CLI lines show what
# the C implementation gives at other levels and with long-distance
# matching (a window the bundle format does not allow: readers refuse
# windows over 32 MiB).
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
OUT=$BENCH/_out/import
B=$OUT/b.tar.zst
GZ=$OUT/manual.tar.gz
[[ -f $B && -f $GZ ]] || { echo "run bench/import.sh first (it makes $B and $GZ)" >&2; exit 1; }
(cd "$BENCH/bundlesize" && go build -o "$OUT/bundlesize" .)
REF=$(stat -c %s "$GZ")
echo "bundle size benchmark — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "bundle $(stat -c %s "$B") bytes; manual tar.gz $REF bytes (ratio $(awk -v a="$(stat -c %s "$B")" -v b="$REF" 'BEGIN{printf "%.4f", a/b}'))"
echo
"$OUT/bundlesize" "$B" "$REF"
if command -v zstd >/dev/null; then
	echo
	echo "reference: the zstd CLI ($(zstd -V | head -1)) on the same tar, one thread"
	T=$(mktemp -d)
	trap 'rm -rf "$T"' EXIT
	zstd -q -d "$B" -o "$T/b.tar"
	for a in "-3 --zstd=wlog=25" "-9 --zstd=wlog=25" "-12 --zstd=wlog=25" "-3 --long=27" "-6 --long=27"; do
		/usr/bin/time -f '%U %S' -o "$T/t" zstd -q -f -T1 $a "$T/b.tar" -o "$T/b.zst"
		read -r u s < "$T/t"
		printf '  zstd %-20s %11d %7.4f %7.2f\n' "$a" "$(stat -c %s "$T/b.zst")" \
			"$(awk -v a="$(stat -c %s "$T/b.zst")" -v b="$REF" 'BEGIN{print a/b}')" "$(awk -v u="$u" -v s="$s" 'BEGIN{print u+s}')"
	done
fi
