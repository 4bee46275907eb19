#!/usr/bin/env bash
# Moving a store to S3-compatible object storage (MinIO on premises), so
# that several servers can share it behind a load balancer. The kept
# bundles are the store's source of truth: import them into the bucket,
# check, serve from it, and keep the old store's audit log with its head.
#
# Needs, besides what common.sh describes: S3_STORE, the new store
# (s3://BUCKET[/PREFIX]), and the AWS variables that reach it, as for the
# aws command: AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY (or AWS_PROFILE and ~/.aws/).
source "$(dirname "$0")/common.sh"
: "${S3_STORE:?set S3_STORE to the new store, s3://BUCKET[/PREFIX]}"
isolated=$WORK/isolated
mkdir -p "$isolated"
modferry keygen -o "$WORK/ferry.key" --no-passphrase
modferry export --sign-key "$WORK/ferry.key" --upstream "$UPSTREAM" -o "$isolated/deps.tar.zst" "$PROJECT"

step "Today: a store on one disk"
modferry import --pubkey "$WORK/ferry.key.pub" --store "$isolated/store" "$isolated/deps.tar.zst"
old_head=$(modferry audit head --store "$isolated/store")
echo "old store's audit head: $old_head"

step "Import the kept bundles into the bucket (--create-bucket makes it if needed)"
modferry import --create-bucket --pubkey "$WORK/ferry.key.pub" --store "$S3_STORE" "$isolated/deps.tar.zst"
# Importing again is a no-op there too.
modferry import --pubkey "$WORK/ferry.key.pub" --store "$S3_STORE" "$isolated/deps.tar.zst" | grep -q "already imported"

step "Check: the same modules, and an audit log in the bucket"
modferry inventory --store "$isolated/store" -o "$isolated/disk.inventory.json"
modferry inventory --store "$S3_STORE" -o "$isolated/s3.inventory.json"
diff <(grep -v '"created"' "$isolated/disk.inventory.json") <(grep -v '"created"' "$isolated/s3.inventory.json")
grep -q '"path"' "$isolated/s3.inventory.json" # not empty
modferry audit verify --store "$S3_STORE"
echo "new store's audit head: $(modferry audit head --store "$S3_STORE")"

step "Serve from the bucket (run as many servers as you like on it) and build"
serve_store "$S3_STORE"
client_build "$PROJECT"
stop_server

step "Keep the old store's audit log, checked against its head"
modferry audit verify --store "$isolated/store" --head "$old_head"
tar -C "$isolated/store" -czf "$isolated/old-audit-log.tar.gz" audit
