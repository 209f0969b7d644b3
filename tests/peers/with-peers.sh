#!/usr/bin/env bash
# Runs a command with the real test peers up: installs them if needed, starts them on
# 127.0.0.1, exports their addresses (HERALD_TEST_*), runs the command, and stops the peers
# whatever happens. The README's test command: bash tests/peers/with-peers.sh cargo test --locked
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export HERALD_PEERS_HOME="${HERALD_PEERS_HOME:-$(cd "$here/../.." && pwd)/target/peers}"
env_file="$HERALD_PEERS_HOME/run/peers.env"

# A run killed before its trap fired leaves peers behind: stop them first.
if [ -f "$env_file" ]; then bash "$here/stop.sh" "$env_file" >/dev/null 2>&1 || true; fi

bash "$here/start.sh" "$env_file"
trap 'bash "$here/stop.sh" "$env_file" >/dev/null 2>&1 || true' EXIT INT TERM
set -a
# shellcheck disable=SC1090
. "$env_file"
set +a
"$@"
