#!/usr/bin/env bash
# Smoke test of running peers with curl + jq: proves the env file's URLs,
# accounts and tokens do what herald's integration tests rely on.
#   tests/peers/smoke.sh [ENV_FILE]     (default: $HERALD_PEERS_HOME/run/peers.env)
# Prints "N passed, N failed" and exits non-zero on any failure.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
H="${HERALD_PEERS_HOME:-$REPO/target/peers}"
ENV_FILE="${1:-$H/run/peers.env}"
[[ -f $ENV_FILE ]] || { echo "no env file $ENV_FILE (run tests/peers/start.sh)" >&2; exit 1; }
set -a; . "$ENV_FILE"; set +a
command -v jq >/dev/null || { echo "smoke.sh needs jq (apt-get install jq)" >&2; exit 1; }

pass=0 fail=0
ok()  { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
check() { local what="$1"; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
ms() { date +%s%3N; }

# ------------------------------------------------------------------ Bluesky
if [[ -n ${HERALD_TEST_PDS_URL:-} ]]; then
  P="$HERALD_TEST_PDS_URL"
  xrpc_post() { curl -sS -X POST "$P/xrpc/$1" -H 'content-type: application/json' ${2:+-H "authorization: Bearer $2"} -d "$3"; }
  xrpc_get() { curl -sS "$P/xrpc/$1" ${2:+-H "authorization: Bearer $2"}; }

  S="$(xrpc_post com.atproto.server.createSession "" '{"identifier":"brand.test","password":"brand-pass"}')"
  BTOK="$(jq -r '.accessJwt // empty' <<< "$S")"; BDID="$(jq -r '.did // empty' <<< "$S")"
  check "bsky: createSession brand.test" test -n "$BTOK"
  check "bsky: brand DID matches env" test "$BDID" = "${HERALD_TEST_BSKY_DID_BRAND:-}"
  ADID="$(xrpc_get 'com.atproto.identity.resolveHandle?handle=alice.test' "" | jq -r '.did // empty')"
  check "bsky: resolveHandle alice.test" test "$ADID" = "${HERALD_TEST_BSKY_DID_ALICE:-}"

  tag="herald$(date +%s%N | tail -c 9)"
  text="Héllo @alice.test ✨ smoke $tag"
  read -r bs be < <(python3 -c 'import sys; t=sys.argv[1].encode(); s=t.index(b"@alice.test"); print(s, s+len(b"@alice.test"))' "$text")
  body="$(jq -n --arg repo "$BDID" --arg text "$text" --arg now "$(date -u +%Y-%m-%dT%H:%M:%S.000Z)" \
    --arg did "$ADID" --argjson bs "$bs" --argjson be "$be" \
    '{repo:$repo, collection:"app.bsky.feed.post", record:{"$type":"app.bsky.feed.post", text:$text, createdAt:$now,
      facets:[{index:{byteStart:$bs, byteEnd:$be}, features:[{"$type":"app.bsky.richtext.facet#mention", did:$did}]}]}}')"
  R="$(xrpc_post com.atproto.repo.createRecord "$BTOK" "$body")"
  URI="$(jq -r '.uri // empty' <<< "$R")"
  check "bsky: createRecord post with mention facet (byte offsets $bs..$be)" test -n "$URI"
  t_post=$(ms)

  AS="$(xrpc_post com.atproto.server.createSession "" '{"identifier":"alice.test","password":"alice-pass"}')"
  ATOK="$(jq -r '.accessJwt // empty' <<< "$AS")"
  check "bsky: createSession alice.test" test -n "$ATOK"
  found=""
  for _ in $(seq 1 50); do
    N="$(xrpc_get app.bsky.notification.listNotifications "$ATOK")"
    if jq -e --arg u "$URI" '.notifications[] | select(.reason == "mention" and .uri == $u)' <<< "$N" >/dev/null 2>&1; then
      found=1; break
    fi
    sleep 0.2
  done
  check "bsky: alice's listNotifications (via PDS) has the mention after $(( $(ms) - t_post )) ms" test -n "$found"
  found=""
  for _ in $(seq 1 50); do
    Q="$(xrpc_get "app.bsky.feed.searchPosts?q=$tag" "$ATOK")"
    if jq -e --arg u "$URI" '.posts[] | select(.uri == $u)' <<< "$Q" >/dev/null 2>&1; then found=1; break; fi
    sleep 0.2
  done
  check "bsky: searchPosts finds the post" test -n "$found"
  code="$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$P/xrpc/com.atproto.server.createSession" \
    -H 'content-type: application/json' -d '{"identifier":"brand.test","password":"wrong"}')"
  check "bsky: wrong password is 401 (got $code)" test "$code" = 401
fi

# ------------------------------------------------------------------ Mastodon (mastodon-mock)
if [[ -n ${HERALD_TEST_MASTODON_URL:-} ]]; then
  M="$HERALD_TEST_MASTODON_URL"
  key="herald-smoke-$(date +%s%N)"
  post_brand() { curl -sS -X POST "$M/api/v1/statuses" -H 'authorization: Bearer brand-token' -H "Idempotency-Key: $key" -F "status=smoke $key"; }
  id1="$(post_brand | jq -r '.id // empty')"; id2="$(post_brand | jq -r '.id // empty')"
  check "mastodon: Idempotency-Key replay returns the same status ($id1 = $id2)" test -n "$id1" -a "$id1" = "$id2"
  mid="$(curl -sS -X POST "$M/api/v1/statuses" -H 'authorization: Bearer alice-token' -H 'content-type: application/json' \
    -d "{\"status\":\"@brand ping $key\"}" | jq -r '.id // empty')"
  check "mastodon: alice posts a mention of @brand" test -n "$mid"
  n="$(curl -sS "$M/api/v1/notifications?types%5B%5D=mention" -H 'authorization: Bearer brand-token' \
    | jq --arg id "$mid" '[.[] | select(.type == "mention" and .status.id == $id and .account.acct == "alice")] | length')"
  check "mastodon: brand's notifications has alice's mention" test "$n" = 1
  curl -sS -o /dev/null -X POST "$M/api/v1/_mock/faults" -H 'content-type: application/json' \
    -d '{"match":{"methods":["POST"],"path":"/api/v1/statuses"},"effect":{"type":"ratelimit"},"count":1}'
  c1="$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$M/api/v1/statuses" -H 'authorization: Bearer brand-token' -F 'status=limited')"
  c2="$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$M/api/v1/statuses" -H 'authorization: Bearer brand-token' -F 'status=not limited')"
  check "mastodon: fault API makes the next POST 429, then 200 ($c1, $c2)" test "$c1" = 429 -a "$c2" = 200
  code="$(curl -sS -o /dev/null -w '%{http_code}' "$M/api/v1/accounts/verify_credentials" -H 'authorization: Bearer nope')"
  check "mastodon: bad token is 401 (got $code)" test "$code" = 401
fi

# ------------------------------------------------------------------ SMTP (aiosmtpd)
if [[ -n ${HERALD_TEST_SMTP_ADDR:-} ]]; then
  key="herald-smoke-$(date +%s%N)"
  python3 - "$HERALD_TEST_SMTP_ADDR" "$key" <<'PY'
import smtplib, sys
host, port = sys.argv[1].rsplit(":", 1)
with smtplib.SMTP(host, int(port), timeout=5) as s:
    s.sendmail("smoke@brand.test", ["ops@brand.test"], f"Subject: {sys.argv[2]}\r\n\r\nsmoke\r\n")
PY
  check "smtp: a message sent to aiosmtpd lands in the Maildir" grep -rqs "Subject: $key" "$HERALD_TEST_SMTP_MAILDIR/new"
fi

echo "smoke: $pass passed, $fail failed"
((fail == 0))
