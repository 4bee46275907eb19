#!/usr/bin/env bash
# A pool of projects served from one store, kept aligned: `modferry align`
# shows the modules the projects select at different versions and raises
# the ones that lag; one bundle carries the whole pool. Once the pool has
# moved on, `modferry prune` removes what no project needs any more.
source "$(dirname "$0")/common.sh"
connected=$WORK/connected isolated=$WORK/isolated
a=$WORK/service-a b=$WORK/service-b
mkdir -p "$connected" "$isolated"

step "Two projects of the pool: service-b has moved on to newer dependencies, service-a lags"
cp -r "$PROJECT" "$a"
cp -r "$PROJECT" "$b"
(cd "$a" && GOPROXY=$UPSTREAM go mod tidy)
(cd "$b" && GOPROXY=$UPSTREAM GOFLAGS=-mod=mod go get -u ./... && GOPROXY=$UPSTREAM go mod tidy)

step "The skew: align lists each module the projects select at different versions"
# align runs the go command in each project, with your GOPROXY.
GOPROXY=$UPSTREAM modferry align "$a" "$b"
if GOPROXY=$UPSTREAM modferry align --fail-on-skew "$a" "$b" >/dev/null; then
	echo "expected skew between the projects" >&2
	exit 1
fi

step "Once: a signing key on the connected side; its .pub goes to the isolated side"
modferry keygen -o "$connected/ferry.key" --no-passphrase
cp "$connected/ferry.key.pub" "$isolated/"

step "Month 1 (connected): one bundle for the whole pool"
modferry export --sign-key "$connected/ferry.key" --upstream "$UPSTREAM" -o "$connected/pool1.tar.zst" "$a" "$b"

step "Month 1 (isolated): import, serve, build every project; the inventory travels back"
cp "$connected/pool1.tar.zst" "$isolated/"
modferry import --pubkey "$isolated/ferry.key.pub" --store "$isolated/store" "$isolated/pool1.tar.zst"
serve_store "$isolated/store"
client_build "$a"
client_build "$b"
modferry inventory --store "$isolated/store" -o "$isolated/inventory.json"
cp "$isolated/inventory.json" "$connected/"

step "Align (connected): raise service-a to the versions the pool selects; no skew remains"
GOPROXY=$UPSTREAM modferry align --write "$a" "$b"
GOPROXY=$UPSTREAM modferry align --fail-on-skew "$a" "$b"

step "Month 2 (connected): the aligned pool's delta (here empty: service-b brought those versions in month 1)"
modferry export --sign-key "$connected/ferry.key" --upstream "$UPSTREAM" \
	--since "$connected/inventory.json" -o "$connected/pool2.tar.zst" "$a" "$b"

step "Month 2 (isolated): import the delta; every project builds"
cp "$connected/pool2.tar.zst" "$isolated/"
modferry import --pubkey "$isolated/ferry.key.pub" --store "$isolated/store" "$isolated/pool2.tar.zst"
client_build "$a"
client_build "$b"

step "Prune (isolated): keep the newest bundle and what the projects' go.sum files name; a dry run first"
# A delta carries only what is new, so the newest bundle alone is not the
# pool's needs: each project's go.sum names every version its build uses.
keep=(--keep-bundles 1 --keep "$a/go.sum" --keep "$b/go.sum")
modferry prune --store "$isolated/store" "${keep[@]}" | tee "$WORK/prune-dry-run.txt"
grep -q "^would remove " "$WORK/prune-dry-run.txt"
modferry prune --store "$isolated/store" "${keep[@]}" --apply
modferry audit show --store "$isolated/store" --action prune

step "After the prune (isolated): every project still builds; the audit log verifies"
client_build "$a"
client_build "$b"
modferry audit verify --store "$isolated/store"
