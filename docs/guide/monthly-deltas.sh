#!/usr/bin/env bash
# A monthly cadence with deltas, when the isolated side can send a small
# file back (its inventory): each month only what it lacks travels.
source "$(dirname "$0")/common.sh"
connected=$WORK/connected isolated=$WORK/isolated
mkdir -p "$connected" "$isolated"

step "Once: a signing key on the connected side; its .pub goes to the isolated side"
modferry keygen -o "$connected/ferry.key" --no-passphrase
cp "$connected/ferry.key.pub" "$isolated/"

step "Month 1 (connected): everything the project needs, in one signed bundle"
modferry export --sign-key "$connected/ferry.key" --upstream "$UPSTREAM" \
	-o "$connected/deps-month1.tar.zst" "$PROJECT"

step "Month 1 (isolated): verify, import, serve, build"
cp "$connected/deps-month1.tar.zst" "$isolated/"
modferry verify --pubkey "$isolated/ferry.key.pub" "$isolated/deps-month1.tar.zst"
modferry import --pubkey "$isolated/ferry.key.pub" --store "$isolated/store" "$isolated/deps-month1.tar.zst"
serve_store "$isolated/store"
client_build "$PROJECT"

step "Month 1 (isolated): the inventory of what the store holds travels back"
modferry inventory --store "$isolated/store" -o "$isolated/inventory.json"
cp "$isolated/inventory.json" "$connected/"

step "Month 2 (connected): the project gained a dependency; the delta carries only what is new"
add_dependency "$PROJECT"
modferry export --sign-key "$connected/ferry.key" --upstream "$UPSTREAM" \
	--since "$connected/inventory.json" -o "$connected/deps-month2.tar.zst" "$PROJECT"
full=$(stat -c %s "$connected/deps-month1.tar.zst") delta=$(stat -c %s "$connected/deps-month2.tar.zst")
echo "month 1: $full bytes, month 2 (delta): $delta bytes"
[[ $delta -lt $full ]]

step "Month 2 (isolated): import the delta on top; the server sees it at once"
cp "$connected/deps-month2.tar.zst" "$isolated/"
modferry import --pubkey "$isolated/ferry.key.pub" --store "$isolated/store" "$isolated/deps-month2.tar.zst"
client_build "$PROJECT"
