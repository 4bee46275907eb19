#!/usr/bin/env bash
# Recovery on the isolated side: importing again is harmless, the audit log
# shows whether anyone rewrote history, and a store moves to a new disk by
# copying it while no server runs. Keep every bundle you import: they are
# the store's source of truth, and importing them into an empty store
# rebuilds it.
source "$(dirname "$0")/common.sh"
isolated=$WORK/isolated
mkdir -p "$isolated"
modferry keygen -o "$WORK/ferry.key" --no-passphrase
modferry export --sign-key "$WORK/ferry.key" --upstream "$UPSTREAM" -o "$isolated/deps.tar.zst" "$PROJECT"

step "Import, then import again: the second is a no-op"
modferry import --pubkey "$WORK/ferry.key.pub" --store "$isolated/store" "$isolated/deps.tar.zst"
modferry import --pubkey "$WORK/ferry.key.pub" --store "$isolated/store" "$isolated/deps.tar.zst" | grep -q "already imported"

step "The audit log: verify it, and write its head down somewhere else"
modferry audit verify --store "$isolated/store"
head=$(modferry audit head --store "$isolated/store")
echo "audit head: $head"

step "Move the store to a new disk: stop the server, copy, check, serve"
cp -a "$isolated/store" "$isolated/store-on-new-disk"
modferry audit verify --store "$isolated/store-on-new-disk" --head "$head"
serve_store "$isolated/store-on-new-disk"
client_build "$PROJECT"
stop_server

step "Rebuild a lost store from the kept bundles"
rm -rf "$isolated/store"
modferry import --pubkey "$WORK/ferry.key.pub" --store "$isolated/store" "$isolated/deps.tar.zst"
serve_store "$isolated/store"
client_build "$PROJECT"
