#!/usr/bin/env bash
# Stops exactly the peers that start.sh started, by the PIDs in its env file.
#   tests/peers/stop.sh [ENV_FILE]      (default: $HERALD_PEERS_HOME/run/peers.env)
# Each PID is checked against the program it should be before it is signalled,
# so a stale file never kills an unrelated process. Safe to run twice.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
H="${HERALD_PEERS_HOME:-$REPO/target/peers}"
ENV_FILE="${1:-$H/run/peers.env}"

log() { printf '[peers/stop %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

if [[ ! -f $ENV_FILE ]]; then
  log "no env file at $ENV_FILE: nothing to stop"
  exit 0
fi

declare -A E=()
while IFS='=' read -r k v; do [[ -n $k && $k != \#* ]] && E[$k]="$v"; done < "$ENV_FILE"

# is_ours PID PATTERN: the process exists and its command line matches PATTERN
is_ours() {
  [[ -n $1 && -r /proc/$1/cmdline ]] || return 1
  tr '\0' ' ' < "/proc/$1/cmdline" | grep -q -- "$2"
}

# stop_pid NAME PID PATTERN [GRACE_SECONDS]: SIGTERM, wait, then SIGKILL
stop_pid() {
  local name="$1" pid="$2" pat="$3" grace="${4:-15}"
  [[ -n $pid ]] || return 0
  if ! is_ours "$pid" "$pat"; then
    log "$name (pid $pid) not running"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null
  local i
  for ((i = 0; i < grace * 10; i++)); do
    is_ours "$pid" "$pat" || { log "$name (pid $pid) stopped"; return 0; }
    sleep 0.1
  done
  log "$name (pid $pid) still running after ${grace} s: SIGKILL"
  kill -KILL "$pid" 2>/dev/null
  sleep 0.2
}

rc=0
stop_pid bsky-network "${E[HERALD_PEERS_PID_BSKY]:-}" 'bsky-network.mjs' 20
stop_pid mastodon-mock "${E[HERALD_PEERS_PID_MASTODON]:-}" 'mastodon_mock' 10
stop_pid redis "${E[HERALD_PEERS_PID_REDIS]:-}" 'redis-server' 10
stop_pid smtp "${E[HERALD_PEERS_PID_SMTP]:-}" 'smtp-peer.py' 10

# herald's own cluster: a test may have restarted it (new PID), so pg_ctl on its folder first.
hpg_data="${E[HERALD_TEST_PG_DATA]:-}"
hpg_bin="${E[HERALD_TEST_PG_BIN]:-}"
if [[ -n $hpg_data && -x $hpg_bin/pg_ctl && -f $hpg_data/postmaster.pid ]]; then
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$hpg_bin/pg_ctl" -D "$hpg_data" -m fast -w -t 30 -s stop || true
  else
    "$hpg_bin/pg_ctl" -D "$hpg_data" -m fast -w -t 30 -s stop || true
  fi
  log "herald's postgres stopped"
fi
hpg_pid="${E[HERALD_PEERS_PID_HERALD_PG]:-}"
[[ -n $hpg_pid ]] && is_ours "$hpg_pid" postgres && stop_pid herald-pg "$hpg_pid" postgres 30

pg_pid="${E[HERALD_PEERS_PID_POSTGRES]:-}"
pg_data="${E[HERALD_PEERS_PG_DATA]:-}"
if [[ -n $pg_pid ]]; then
  if is_ours "$pg_pid" postgres; then
    pg_bin="${E[HERALD_PEERS_PG_BIN]:-}"
    if [[ -n $pg_data && -x $pg_bin/pg_ctl ]]; then
      if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_data" -m fast -w -t 30 -s stop || true
      else
        "$pg_bin/pg_ctl" -D "$pg_data" -m fast -w -t 30 -s stop || true
      fi
    fi
    if is_ours "$pg_pid" postgres; then
      # pg_ctl failed or found another cluster: fall back to the recorded PID.
      stop_pid postgres "$pg_pid" postgres 30
    else
      log "postgres (pid $pg_pid) stopped"
    fi
  else
    log "postgres (pid $pg_pid) not running"
  fi
fi

# Anything left?
for k in "${!E[@]}"; do
  [[ $k == HERALD_PEERS_PID_* ]] || continue
  pid="${E[$k]}"
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && [[ -r /proc/$pid/cmdline ]] \
     && ! grep -q "^State:[[:space:]]*Z" "/proc/$pid/status" 2>/dev/null; then
    log "ERROR: ${k#HERALD_PEERS_PID_} (pid $pid) is still alive"
    rc=1
  fi
done
((rc == 0)) && log "all peers stopped"
exit $rc
