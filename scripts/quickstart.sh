#!/usr/bin/env bash
# quickstart: the whole modferry flow on one machine, with the default
# store (./modferry-data):
#   1. build modferry and make a signing key (./modferry-keys/ferry.key)
#   2. export everything modferry's own source tree needs into one signed
#      bundle (from your GOPROXY, with checksum-database proofs)
#   3. verify the bundle and import it into ./modferry-data
#   4. serve the store on 127.0.0.1:3000 and print the client environment
set -euo pipefail
cd "$(dirname "$0")/.."
ADDR=${ADDR:-127.0.0.1:3000}
STORE=${STORE:-./modferry-data}
KEYS=./modferry-keys
BUNDLE=./modferry-quickstart.tar.zst

echo "== building modferry"
CGO_ENABLED=0 go build -o ./modferry ./cmd/modferry

if [[ ! -f $KEYS/ferry.key ]]; then
	mkdir -p "$KEYS"
	./modferry keygen -o "$KEYS/ferry.key" --no-passphrase
fi

echo "== exporting what this project needs (connected side)"
./modferry export --sign-key "$KEYS/ferry.key" -o "$BUNDLE" .

echo "== verifying and importing (isolated side)"
./modferry verify --pubkey "$KEYS/ferry.key.pub" "$BUNDLE"
./modferry import --pubkey "$KEYS/ferry.key.pub" --store "$STORE" "$BUNDLE"

echo "== serving $STORE on http://$ADDR (Ctrl-C stops)"
./modferry serve --store "$STORE" --addr "$ADDR" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid' INT TERM
host=${ADDR%:*} port=${ADDR##*:}
for _ in $(seq 100); do
	(exec 3<>"/dev/tcp/$host/$port") 2>/dev/null && break
	sleep 0.1
done
echo "== in another shell, a go client uses it with:"
./modferry env --server "http://$ADDR"
wait $pid
