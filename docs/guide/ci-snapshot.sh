#!/usr/bin/env bash
# A CI snapshot: on the connected side, CI builds through a team caching
# proxy (serve --upstream) that fetches each module version once and keeps
# it only after the checksum database vouches for it. Each night, what CI
# used and the isolated side lacks goes across as one signed bundle
# (export --from-store --since), and the isolated side builds with exactly
# that, offline. Nobody has to list dependencies: CI's own builds decide.
source "$(dirname "$0")/common.sh"
connected=$WORK/connected isolated=$WORK/isolated
mkdir -p "$connected" "$isolated"

# team_proxy: the connected side's caching proxy, filling "$connected/team".
team_proxy() {
	serve_store "$connected/team" --upstream "$UPSTREAM" ${UPSTREAM_SUMDB:+--upstream-sumdb "$UPSTREAM_SUMDB"}
}

# versions STORE: the module versions a store holds, one "PATH VERSION" a line.
versions() {
	find "$1/download" -name '*.info' | sed -e "s|^$1/download/||" -e 's|/@v/| |' -e 's|\.info$||' | sort
}

step "Once: a signing key on the connected side; its .pub goes to the isolated side"
modferry keygen -o "$connected/ferry.key" --no-passphrase
cp "$connected/ferry.key.pub" "$isolated/"

step "Day 1 (connected): CI builds through the team proxy, which fills its store"
team_proxy
client_build "$PROJECT"

step "Night 1 (connected): everything the team proxy holds, in one signed bundle (the proxy keeps running)"
modferry export --from-store "$connected/team" --sign-key "$connected/ferry.key" -o "$connected/night1.tar.zst"

step "Night 1 (isolated): verify, import, serve, build offline; the inventory travels back"
cp "$connected/night1.tar.zst" "$isolated/"
modferry verify --pubkey "$isolated/ferry.key.pub" "$isolated/night1.tar.zst"
modferry import --pubkey "$isolated/ferry.key.pub" --store "$isolated/store" "$isolated/night1.tar.zst"
serve_store "$isolated/store"
client_build "$PROJECT"
modferry inventory --store "$isolated/store" -o "$isolated/inventory.json"
cp "$isolated/inventory.json" "$connected/"

step "Day 2 (connected): the project gains a dependency; CI builds it through the team proxy"
add_dependency "$PROJECT"
team_proxy
client_build "$PROJECT"

step "Night 2 (connected): tonight's bundle carries only what CI fetched that the isolated side lacks"
modferry export --from-store "$connected/team" --sign-key "$connected/ferry.key" \
	--since "$connected/inventory.json" -o "$connected/night2.tar.zst"
modferry inspect "$connected/night2.tar.zst" --against "$connected/inventory.json"
full=$(stat -c %s "$connected/night1.tar.zst") delta=$(stat -c %s "$connected/night2.tar.zst")
echo "night 1: $full bytes, night 2 (delta): $delta bytes"
[[ $delta -lt $full ]]

step "Night 2 (isolated): import the delta; the project builds offline with the new dependency"
cp "$connected/night2.tar.zst" "$isolated/"
modferry import --pubkey "$isolated/ferry.key.pub" --store "$isolated/store" "$isolated/night2.tar.zst"
serve_store "$isolated/store"
client_build "$PROJECT"

step "Both sides hold exactly the module versions CI used"
diff <(versions "$isolated/store") <(versions "$connected/team")
