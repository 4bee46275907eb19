#!/usr/bin/env bash
# Rotating the signing key. The isolated side trusts a directory of public
# keys; a new key is added there before the connected side switches to it,
# and the old one is retired by removing its .pub file. verify and import
# say which key signed each bundle.
source "$(dirname "$0")/common.sh"
connected=$WORK/connected isolated=$WORK/isolated
mkdir -p "$connected" "$isolated/trusted"

step "The 2025 key signs; the isolated side trusts it"
modferry keygen -o "$connected/ferry-2025.key" --no-passphrase
cp "$connected/ferry-2025.key.pub" "$isolated/trusted/"
modferry export --sign-key "$connected/ferry-2025.key" --upstream "$UPSTREAM" -o "$connected/old.tar.zst" "$PROJECT"
modferry verify --pubkey "$isolated/trusted" "$connected/old.tar.zst"

step "A 2026 key: its .pub goes across first, beside the old one"
modferry keygen -o "$connected/ferry-2026.key" --no-passphrase
cp "$connected/ferry-2026.key.pub" "$isolated/trusted/"
modferry export --sign-key "$connected/ferry-2026.key" --upstream "$UPSTREAM" -o "$connected/new.tar.zst" "$PROJECT"
# Both bundles verify while both keys are trusted; the verdict names the key.
modferry verify --pubkey "$isolated/trusted" "$connected/old.tar.zst" "$connected/new.tar.zst"

step "The old key is retired: its bundles no longer verify, new ones do"
rm "$isolated/trusted/ferry-2025.key.pub"
if modferry verify --pubkey "$isolated/trusted" "$connected/old.tar.zst"; then
	echo "a bundle signed by a retired key still verified" >&2
	exit 1
fi
modferry import --pubkey "$isolated/trusted" --store "$isolated/store" "$connected/new.tar.zst"
serve_store "$isolated/store"
client_build "$PROJECT"
