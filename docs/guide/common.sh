# Shared by the scenario scripts: the environment they run in, and the two
# things every scenario does on the isolated side: serve a store, and build
# a project with nothing but the go command pointed at it.
#
# The scripts run as they are in CI (internal/e2e/guide_test.go) against a
# local upstream proxy and checksum database. To follow one by hand, set:
#   UPSTREAM   the connected side's GOPROXY (default: your go env GOPROXY)
#   PROJECT    a project directory to carry (module root or go.work root)
#   WORK       an empty scratch directory
#   CLIENT_GOSUMDB  what clients set GOSUMDB to (default: left unset, the
#              go command's default, which the server answers offline)
#   NEW_DEPENDENCY  for the delta scenarios: MODULE@VERSION the project
#              adds next month, and NEW_IMPORT the package it imports
#   UPSTREAM_SUMDB  for the CI snapshot: the key (NAME+HASH+KEY) of the
#              checksum database the team proxy checks against, through
#              the upstream's /sumdb/ (default: sum.golang.org)
set -euo pipefail

: "${WORK:?set WORK to an empty scratch directory}"
: "${PROJECT:?set PROJECT to the project directory to carry}"
UPSTREAM=${UPSTREAM:-$(go env GOPROXY)}
PORT=${PORT:-3000}
export MODFERRY_KEY_PASSPHRASE=${MODFERRY_KEY_PASSPHRASE-}

# serve_store STORE [SERVE FLAGS...]: serve STORE on 127.0.0.1:$PORT until
# the script ends (or the next serve_store).
serve_store() {
	stop_server
	modferry serve --store "$1" --addr "127.0.0.1:$PORT" "${@:2}" 2>>"$WORK/serve.log" &
	SERVER_PID=$!
	trap stop_server EXIT
	for _ in $(seq 100); do
		if modferry healthcheck --url "http://127.0.0.1:$PORT/healthz" 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	echo "the server did not start; its log:" >&2
	cat "$WORK/serve.log" >&2
	return 1
}

stop_server() {
	if [[ -n ${SERVER_PID:-} ]]; then
		kill "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
		SERVER_PID=
	fi
}

# client_build DIR: what a developer or CI runner on the isolated side
# does: a fresh module cache, the environment modferry env prints, and the
# plain go command. Checksum verification stays on.
client_build() (
	cd "$1"
	# Assigned first, so that a failure stops the script (eval "$(…)" would not).
	client_env=$(modferry env --server "http://127.0.0.1:$PORT")
	eval "$client_env"
	if [[ -n ${CLIENT_GOSUMDB:-} ]]; then export GOSUMDB=$CLIENT_GOSUMDB; fi
	export GOMODCACHE="$WORK/client-modcache-$RANDOM" GONOSUMDB= GOPRIVATE= GONOPROXY=
	go mod download all
	go build ./...
	go test ./...
	go mod verify
	go clean -modcache
)

# add_dependency DIR: next month's change on the connected side.
add_dependency() (
	cd "$1"
	export GOPROXY=$UPSTREAM GOFLAGS=-mod=mod
	go get "${NEW_DEPENDENCY:?set NEW_DEPENDENCY}"
	printf 'package main\n\nimport _ "%s"\n' "${NEW_IMPORT:?set NEW_IMPORT}" > new_dependency.go
	go mod tidy
)

step() { printf '\n== %s\n' "$*"; }
