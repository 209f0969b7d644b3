#!/usr/bin/env python3
"""Independent checker for the JSON plan printed by `herald plan --format json`.

It deliberately trusts nothing herald computes: every expectation is re-derived from
content-plan/plan.toml and the draft files, following the "Rules the plan obeys (per channel)" of the
spec, so a bug in herald's planner cannot hide itself by agreeing with its own output.

Usage:
  python3 tests/plan_rules.py --plan-dir content-plan --json plan.json --from 2026-12-01 --days 28 \
      [--timezone Asia/Shanghai] [--channels outbox,mastodon] [--allow-shortage] [--history past.json]
`--json -` reads stdin. `--history` names the posts a channel already had before `--from` (the same
JSON shape): they are not checked, but the prefix rules (mix, promo share, gap, series order,
reuse) go on from them, as herald's planner does with the posts it keeps. Prints one line `RULE channel at: why` per violation, then
`plan_rules: N posts, M channels, K violations`; exits 1 if there is any violation.
"""
import argparse
import datetime as dt
import json
import re
import sys
import tomllib
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit
from zoneinfo import ZoneInfo

RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})\Z")
# Only RFC 3986 characters, so a URL ends at whitespace or at CJK text/punctuation such as "。".
URL_RE = re.compile(r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
STEM_RE = re.compile(r"[a-z0-9][a-z0-9-]*\Z")
FIELDS = {"at": str, "channel": str, "category": str, "draft": str, "peak": str, "text": str, "promo": bool}

violations = []

def bad(rule, channel, at, why):
    violations.append(f"{rule} {channel} {at}: {why}")

# ---------------------------------------------------------------- inputs

def as_date(v):
    # TOML local dates arrive as datetime.date; accept ISO strings too rather than crash on them.
    if isinstance(v, dt.datetime):
        return v.date()
    return v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v).strip())

def as_time(v):
    return v if isinstance(v, dt.time) else dt.time.fromisoformat(str(v).strip())

def blackout_dates(specs):
    days = set()
    for spec in specs:
        a, _, b = str(spec).partition("..")
        day, last = as_date(a), as_date(b or a)
        while day <= last:
            days.add(day)
            day += dt.timedelta(days=1)
    return days

def read_draft(path):
    """(front matter dict, body) of a draft; the front matter sits between two lines that are exactly +++."""
    lines = path.read_text(encoding="utf-8").lstrip("\ufeff").splitlines(keepends=True)
    if not lines or lines[0].rstrip("\r\n") != "+++":
        raise ValueError("first line is not +++")
    for i in range(1, len(lines)):
        if lines[i].rstrip("\r\n") == "+++":
            return tomllib.loads("".join(lines[1:i])), "".join(lines[i + 1:])
    raise ValueError("no closing +++ line")

def load_drafts(plan_dir):
    """Drafts by id, plus the parse error of each unusable file (reported only if a post uses it)."""
    drafts, errors = {}, {}
    for path in sorted((plan_dir / "drafts").glob("*/*.md")):
        did = f"{path.parent.name}/{path.stem}"
        try:
            fm, body = read_draft(path)
        except (ValueError, tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            errors[did] = f"unreadable front matter: {e}"
            continue
        fm["_body"] = body
        drafts[did] = fm
    return drafts, errors

# ---------------------------------------------------------------- links and text

def clean_url(u):
    # Trailing sentence punctuation belongs to the prose, not to the URL.
    u = u.rstrip(".,;:!?'\"")
    while u.endswith(")") and u.count("(") < u.count(")"):
        u = u[:-1].rstrip(".,;:!?'\"")
    return u

def find_urls(s):
    return [clean_url(m.group(0)) for m in URL_RE.finditer(s)]

def url_key(u):
    """What tracking must preserve: scheme, host, path, fragment and the non-utm query params
    (order-insensitive and decoded, so herald's choice of encoding/ordering doesn't matter)."""
    sp = urlsplit(u)
    params = sorted((k, v) for k, v in parse_qsl(sp.query, keep_blank_values=True)
                    if not k.lower().startswith("utm_"))
    query = "&".join(f"{k}={v}" for k, v in params)
    return (f"{sp.scheme.lower()}://{sp.netloc.lower()}{unquote(sp.path) or '/'}"
            + (f"?{query}" if query else "") + (f"#{sp.fragment}" if sp.fragment else ""))

def prose(s):
    """The words of a post: URLs and {link} become a gap, whitespace (incl. around those gaps) is collapsed,
    so where herald puts the link and how it spaces it does not matter, but any change of wording does."""
    s = URL_RE.sub(lambda m: "\0" + m.group(0)[len(clean_url(m.group(0))):], s.replace("{link}", "\0"))
    return " ".join(re.sub(r"\s*\0\s*", " ", s).split())

# Channel name -> platform kind, from herald.toml (for drafts' per-platform variants).
CHANNEL_KINDS = {}

def check_text(p, d, ch, local):
    at = p["at"]
    stem = p["draft"].partition("/")[2]
    code = f"{ch}.{p['category']}.{stem}.{local:%Y%m%dT%H%M}"
    if "source_code" in p and p["source_code"] != code:
        bad("TEXT", ch, at, f"source_code {p['source_code']!r}, want {code!r}")
    want = {"utm_source": ch, "utm_medium": "social", "utm_campaign": p["category"], "utm_content": code}
    found = find_urls(p["text"])
    for u in found:
        query = parse_qsl(urlsplit(u).query, keep_blank_values=True)
        for key, value in want.items():
            got = [v for k, v in query if k == key]
            if got != [value]:
                bad("TEXT", ch, at, f"{u}: {key}={','.join(got) or '(missing)'}, want {value}")
    # A draft's `[variants.<channel or platform>] text` replaces its text there (channel first).
    variants = d.get("variants", {})
    variant = variants.get(ch, variants.get(CHANNEL_KINDS.get(ch, ""))) or {}
    body = variant.get("text") or d["_body"]
    expected = [url_key(u) for u in find_urls(body.replace("{link}", " "))]
    if isinstance(d.get("link"), str):
        expected.append(url_key(d["link"]))
    got_keys = sorted(url_key(u) for u in found)
    if got_keys != sorted(expected):
        bad("TEXT", ch, at, f"links {got_keys} but the draft gives {sorted(expected)}")
    if prose(p["text"]) != prose(body):
        bad("TEXT", ch, at, f"text {prose(p['text'])!r} differs from draft body {prose(body)!r}")

# ---------------------------------------------------------------- per-post draft rules

def check_draft(p, d, ch, local):
    at, folder, stem = p["at"], *p["draft"].partition("/")[::2]
    if folder != p["category"]:
        bad("DRAFT", ch, at, f"category {p['category']!r} but draft {p['draft']} is in folder {folder!r}")
    if d.get("category", folder) != folder:
        bad("DRAFT", ch, at, f"draft front matter says category {d['category']!r}, folder is {folder!r}")
    if not STEM_RE.match(stem):
        bad("DRAFT", ch, at, f"draft stem {stem!r} is not [a-z0-9][a-z0-9-]*")
    chans = d.get("channels")
    if chans is not None and ch not in chans:
        bad("DRAFT", ch, at, f"draft {p['draft']} is only for channels {chans}")
    if "not_before" in d and local.date() < as_date(d["not_before"]):
        bad("DRAFT", ch, at, f"local date {local.date()} before not_before {as_date(d['not_before'])}")
    if "not_after" in d and local.date() > as_date(d["not_after"]):
        bad("DRAFT", ch, at, f"local date {local.date()} after not_after {as_date(d['not_after'])}")
    if p["promo"] != bool(d.get("promo", False)):
        bad("DRAFT", ch, at, f"promo {p['promo']} but draft {p['draft']} has promo = {bool(d.get('promo', False))}")

def series_order(drafts, ch):
    """Per series, the parts this channel may ever post, sorted. A part missing from this list (draft
    restricted to other channels) may legitimately be skipped; any other gap breaks the part order."""
    parts = {}
    for d in drafts.values():
        if "series" in d and (d.get("channels") is None or ch in d["channels"]):
            parts.setdefault(d["series"], []).append(d.get("part"))
    return {s: sorted(x for x in ps if isinstance(x, int)) for s, ps in parts.items()}

def in_peak(t, start, end):
    # A peak with end <= start is taken to wrap past midnight.
    return start <= t < end if start < end else (t >= start or t < end)

# ---------------------------------------------------------------- main

def parse_posts(data, tz):
    """Well-shaped posts, each with its instant and plan-local time; malformed ones are reported and dropped."""
    posts = []
    for i, p in enumerate(data):
        if not isinstance(p, dict):
            bad("SHAPE", "-", f"#{i}", "entry is not an object")
            continue
        ch = p["channel"] if isinstance(p.get("channel"), str) else "-"
        at = p["at"] if isinstance(p.get("at"), str) else f"#{i}"
        wrong = [k for k, t in FIELDS.items() if type(p.get(k)) is not t]  # type(): a 0/1 is not a bool
        if wrong:
            bad("SHAPE", ch, at, f"missing or mistyped fields: {', '.join(wrong)}")
            continue
        if "source_code" in p and not isinstance(p["source_code"], str):
            bad("SHAPE", ch, at, "source_code is not a string")
        try:
            if not RFC3339.match(at):
                raise ValueError("not RFC 3339 with an offset")
            inst = dt.datetime.fromisoformat(at)
        except ValueError as e:
            bad("SHAPE", ch, at, f"bad timestamp: {e}")
            continue
        local = inst.astimezone(tz)
        if inst.utcoffset() != local.utcoffset():
            bad("SHAPE", ch, at, f"offset {inst:%z} but {tz.key} is at {local:%z} at that instant")
        posts.append(dict(p, inst=inst, local=local))
    for a, b in zip(posts, posts[1:]):
        if (b["inst"], b["channel"]) < (a["inst"], a["channel"]):
            bad("ORDER", b["channel"], b["at"], f"listed after {a['at']} {a['channel']}: not sorted by (at, channel)")
    seen = set()
    for p in posts:
        if (p["channel"], p["inst"]) in seen:
            bad("ORDER", p["channel"], p["at"], "two posts at the same instant on this channel")
        seen.add((p["channel"], p["inst"]))
    return posts

def load_rules(plan):
    """plan.toml reduced to the numbers the rules need; an absent section imposes no constraint."""
    mix = {str(c): int(pct) for c, pct in plan.get("mix", {}).items()}
    if sum(mix.values()) != 100:
        bad("CONFIG", "-", "-", f"[mix] sums to {sum(mix.values())}, not 100")
    cadence = plan.get("cadence", {})
    return {
        "mix": mix,
        "min_day": cadence.get("min_per_day", 0), "max_day": cadence.get("max_per_day", 10**9),
        "min_gap": dt.timedelta(minutes=cadence.get("min_gap_minutes", 0)),
        "peaks": {pk["name"]: (as_time(pk["start"]), as_time(pk["end"])) for pk in plan.get("peaks", [])},
        "max_share": plan.get("promo", {}).get("max_share", 100),
        "cooldown": plan.get("cooldown", {}).get("days", 0),
        "series_gap": dt.timedelta(hours=plan.get("series", {}).get("min_gap_hours", 0)),
        "blackout": blackout_dates(plan.get("blackout", {}).get("dates", [])),
    }

def check_channel(ch, ps, rules, drafts, draft_errors, window, allow_shortage, history=()):
    """Walk one channel's posts in time order, after its `history` (earlier posts, not checked,
    empty unless --history names them); returns category counts."""
    mix, order = rules["mix"], series_order(drafts, ch)
    counts, per_day, cats = dict.fromkeys(mix, 0), Counter(), Counter()
    n = promos = 0
    prev = None
    next_idx, parts_done, last_part_at, last_use = {}, {}, {}, {}
    for p in history:
        if p["inst"].astimezone(p["local"].tzinfo).date() >= window[0]:
            bad("HISTORY", ch, p["at"], f"history post on or after --from {window[0]}")
        n += 1
        if p["category"] in counts:
            counts[p["category"]] += 1
        d = drafts.get(p["draft"])
        promos += bool(d.get("promo", False)) if d is not None else p["promo"]
        prev = p
        if d is not None:
            last_use[p["draft"]] = p["inst"]
            series = d.get("series")
            if series is not None:
                part, want = d.get("part"), order.get(series, [])
                parts_done.setdefault(series, set()).add(part)
                last_part_at[series] = p["inst"]
                if part in want:
                    next_idx[series] = max(next_idx.get(series, 0), want.index(part) + 1)
    for p in ps:
        at, local, d = p["at"], p["local"], drafts.get(p["draft"])
        if not window[0] <= local.date() <= window[-1]:
            bad("RANGE", ch, at, f"local date {local.date()} outside {window[0]}..{window[-1]}")
        per_day[local.date()] += 1
        cats[p["category"]] += 1

        span = rules["peaks"].get(p["peak"])
        if span is None:
            bad("PEAK", ch, at, f"unknown peak {p['peak']!r}")
        elif not in_peak(local.time(), *span):
            bad("PEAK", ch, at, f"{local:%H:%M:%S} outside peak {p['peak']} [{span[0]:%H:%M}, {span[1]:%H:%M})")

        if prev is not None and p["inst"] - prev["inst"] < rules["min_gap"]:
            bad("GAP", ch, at, f"only {p['inst'] - prev['inst']} after {prev['at']} (min {rules['min_gap']})")
        prev = p

        # Mix and promo are prefix rules: they must hold after every post, not just in total.
        n += 1
        if p["category"] in counts:
            counts[p["category"]] += 1
        else:
            bad("MIX", ch, at, f"category {p['category']!r} is not in [mix]")
        for c, pct in mix.items():
            if abs(100 * counts[c] - pct * n) >= 100:
                bad("MIX", ch, at, f"after {n} posts {c} has {counts[c]}, target {pct}% = {pct * n / 100:g}")
        promos += bool(d.get("promo", False)) if d is not None else p["promo"]
        if 100 * promos > rules["max_share"] * n:
            bad("PROMO", ch, at, f"{promos} promo posts out of {n} > {rules['max_share']}%")

        if d is None:
            bad("DRAFT", ch, at, f"draft {p['draft']}: " + draft_errors.get(p["draft"], "no file drafts/<category>/<stem>.md"))
            continue
        check_draft(p, d, ch, local)

        series = d.get("series")
        if series is not None:
            part, want = d.get("part"), order.get(series, [])
            idx, done = next_idx.get(series, 0), parts_done.setdefault(series, set())
            if part in done:
                bad("SERIES", ch, at, f"{series} part {part} posted again")
            elif idx >= len(want) or part != want[idx]:
                bad("SERIES", ch, at, f"{series} part {part} out of order (next due: part "
                    f"{want[idx] if idx < len(want) else 'none'})")
            if series in last_part_at and p["inst"] - last_part_at[series] < rules["series_gap"]:
                bad("SERIES", ch, at, f"{series} part {part} only {p['inst'] - last_part_at[series]}"
                    f" after the previous part (min {rules['series_gap']})")
            done.add(part)
            last_part_at[series] = p["inst"]
            if part in want:
                next_idx[series] = max(idx, want.index(part) + 1)

        previous = last_use.get(p["draft"])
        if previous is not None and not d.get("evergreen", False):
            bad("REUSE", ch, at, f"non-evergreen {p['draft']} already posted at {previous:%Y-%m-%dT%H:%M%z}")
        elif previous is not None:
            days = d.get("cooldown_days", rules["cooldown"])
            if p["inst"] - previous < dt.timedelta(days=days):
                bad("REUSE", ch, at, f"evergreen {p['draft']} reused after {p['inst'] - previous} (cooldown {days} days)")
        last_use[p["draft"]] = p["inst"]

        check_text(p, d, ch, local)

    for day in window:
        k = per_day[day]
        if day in rules["blackout"]:
            if k:
                bad("DAY", ch, day, f"{k} posts on a blackout date")
        elif k > rules["max_day"]:
            bad("DAY", ch, day, f"{k} posts > max_per_day {rules['max_day']}")
        elif k < rules["min_day"] and allow_shortage:
            print(f"note: {ch} {day}: {k} posts < min_per_day {rules['min_day']} (shortage allowed)", file=sys.stderr)
        elif k < rules["min_day"]:
            bad("DAY", ch, day, f"{k} posts < min_per_day {rules['min_day']}")
    return cats

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--plan-dir", required=True, type=Path)
    ap.add_argument("--json", required=True, help="herald's JSON plan, or - for stdin")
    ap.add_argument("--from", dest="start", required=True, type=dt.date.fromisoformat)
    ap.add_argument("--days", required=True, type=int)
    ap.add_argument("--timezone", help="default: herald.toml next to the plan dir, else Asia/Shanghai")
    ap.add_argument("--channels", help="comma list; default: herald.toml's channels, else those in the JSON")
    ap.add_argument("--allow-shortage", action="store_true",
                    help="days under min_per_day are notes (herald reported a shortage), not violations")
    ap.add_argument("--history", help="JSON of the posts each channel had before --from (not checked; the prefix rules go on from them)")
    args = ap.parse_args()
    if args.days < 1:
        ap.error("--days must be at least 1")

    rules = load_rules(tomllib.loads((args.plan_dir / "plan.toml").read_text(encoding="utf-8")))
    cfg_path = args.plan_dir.resolve().parent / "herald.toml"
    cfg = tomllib.loads(cfg_path.read_text(encoding="utf-8")) if cfg_path.is_file() else {}
    tz = ZoneInfo(args.timezone or cfg.get("timezone", "Asia/Shanghai"))
    CHANNEL_KINDS.update({c.get("name"): c.get("kind", "") for c in cfg.get("channels", [])})
    drafts, draft_errors = load_drafts(args.plan_dir)
    window = [args.start + dt.timedelta(days=i) for i in range(args.days)]

    raw = sys.stdin.read() if args.json == "-" else Path(args.json).read_text(encoding="utf-8")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as e:
        bad("SHAPE", "-", "-", f"not JSON: {e}")
        data = []
    if not isinstance(data, list):
        bad("SHAPE", "-", "-", "top level is not a JSON array")
        data = []
    posts = parse_posts(data, tz)
    history = []
    if args.history:
        past = json.loads(Path(args.history).read_text(encoding="utf-8"))
        if not isinstance(past, list):
            bad("SHAPE", "-", "-", "--history is not a JSON array")
            past = []
        history = parse_posts(past, tz)

    if args.channels:
        channels = [c.strip() for c in args.channels.split(",") if c.strip()]
    elif cfg.get("channels"):
        channels = [c["name"] for c in cfg["channels"]]
    else:
        channels = sorted({p["channel"] for p in posts}) or ["outbox"]
    for p in posts:
        if p["channel"] not in channels:
            bad("CHANNEL", p["channel"], p["at"], f"not one of the planned channels {channels}")

    summary = {}
    for ch in channels:
        ps = sorted((p for p in posts if p["channel"] == ch), key=lambda p: p["inst"])
        before = sorted((p for p in history if p["channel"] == ch), key=lambda p: p["inst"])
        summary[ch] = check_channel(ch, ps, rules, drafts, draft_errors, window, args.allow_shortage, before)

    for line in violations:
        print(line)
    for ch, cats in summary.items():
        print(f"  {ch}: {sum(cats.values())} posts; " + " ".join(f"{c}={cats[c]}" for c in sorted(cats)),
              file=sys.stderr)
    print(f"plan_rules: {len(data)} posts, {len(channels)} channels, {len(violations)} violations")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
