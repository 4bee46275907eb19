#!/usr/bin/env bash
# test.sh: install what the tests need (Debian packages, as root or with
# sudo) if it is missing, then run the tests: go test ./... plus any
# arguments given (e.g. -race). Set MODFERRY_SLOW=1 for the slow
# end-to-end tests and MODFERRY_LIVE=1 for those that use the real Go
# module proxy and checksum database.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for cmd in minisign zstd curl; do
	command -v "$cmd" >/dev/null || need+=("$cmd")
done
# util-linux: unshare (offline and full-disk tests), flock (scratch tests)
command -v unshare >/dev/null && command -v flock >/dev/null || need+=(util-linux)
command -v ip >/dev/null || need+=(iproute2)
command -v git >/dev/null || need+=(git)
command -v gpg >/dev/null || need+=(gnupg)
# deployment tests: nginx in front (TLS), the container image, the systemd unit
command -v nginx >/dev/null || need+=(nginx-light)
command -v podman >/dev/null || need+=(podman)
command -v runc >/dev/null || need+=(runc)
command -v systemd-analyze >/dev/null || need+=(systemd)
# SBOM tests: the official CycloneDX validator (@cyclonedx/cyclonedx-library,
# installed by npm ci from internal/sbom/testdata/validate)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
# web catalog tests: headless Chromium driven by chromedp
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
if ((${#need[@]})); then
	sudo=""
	[[ $(id -u) -eq 0 ]] || sudo=sudo
	echo "installing ${need[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq
	$sudo apt-get install -y -qq "${need[@]}"
fi

# MinIO for the S3 store's tests (internal/store/s3store): built once from
# its Go module into the user cache (a few minutes), kept for later runs.
# MODFERRY_MINIO names a binary to use instead.
minio_version=v0.0.0-20260212201848-7aac2a2c5b7c # = miniotest.Version
if [[ -z ${MODFERRY_MINIO:-} ]]; then
	minio_dir=${XDG_CACHE_HOME:-$HOME/.cache}/modferry/minio/$minio_version
	if [[ ! -x $minio_dir/minio ]]; then
		echo "building MinIO $minio_version into $minio_dir (once)" >&2
		mkdir -p "$minio_dir"
		GOBIN=$minio_dir go install "github.com/minio/minio@$minio_version"
	fi
	export MODFERRY_MINIO=$minio_dir/minio
fi

exec go test "$@" ./...
