#!/usr/bin/env bash
# A one-way transfer (a data diode): nothing comes back from the isolated
# side, not even an inventory. The connected side keeps a shadow store of
# everything it has sent and computes each delta against that instead.
#
# The limit: the shadow says what was SENT, not what ARRIVED. If a bundle
# is lost in transit, later deltas assume it arrived; send the lost bundle
# again (bundles are self-contained and importing twice is a no-op), or
# send a full bundle (export without --since) from time to time.
source "$(dirname "$0")/common.sh"
connected=$WORK/connected isolated=$WORK/isolated
mkdir -p "$connected" "$isolated"
modferry keygen -o "$connected/ferry.key" --no-passphrase
cp "$connected/ferry.key.pub" "$isolated/"

step "Week 1 (connected): a full bundle, recorded in the shadow store"
modferry export --sign-key "$connected/ferry.key" --upstream "$UPSTREAM" -o "$connected/week1.tar.zst" "$PROJECT"
modferry import --pubkey "$connected/ferry.key.pub" --store "$connected/shadow" "$connected/week1.tar.zst"

step "Week 1 (isolated): import and build"
cp "$connected/week1.tar.zst" "$isolated/"
modferry import --pubkey "$isolated/ferry.key.pub" --store "$isolated/store" "$isolated/week1.tar.zst"
serve_store "$isolated/store"
client_build "$PROJECT"

step "Week 2 (connected): the delta against the shadow's inventory"
add_dependency "$PROJECT"
modferry inventory --store "$connected/shadow" -o "$connected/shadow-inventory.json"
modferry export --sign-key "$connected/ferry.key" --upstream "$UPSTREAM" \
	--since "$connected/shadow-inventory.json" -o "$connected/week2.tar.zst" "$PROJECT"
modferry import --pubkey "$connected/ferry.key.pub" --store "$connected/shadow" "$connected/week2.tar.zst"

step "Week 2 (isolated): the delta applies on top of week 1"
cp "$connected/week2.tar.zst" "$isolated/"
modferry import --pubkey "$isolated/ferry.key.pub" --store "$isolated/store" "$isolated/week2.tar.zst"
client_build "$PROJECT"

step "Both sides hold the same module versions"
diff <(cd "$isolated/store/download" && find . -type f -name '*.info' | sort) \
	<(cd "$connected/shadow/download" && find . -type f -name '*.info' | sort)
