"""Same-run comparison of herald's sentiment model with SnowNLP and VADER.

Reads the predictions herald wrote (`herald-train-sentiment --eval-only --dump-predictions FILE`):
one JSON line per held-out text with its set, gold label, herald's label and score, then one
`_timing` line per set with herald's throughput measured on one thread. Runs SnowNLP on the
Chinese sets and VADER on the English set, on exactly those texts, times them, and prints one
markdown table. Run it through compare_sentiment.sh, which pins everything to one core.

Rules, the same for every method:
- binary sets: positive iff the score is above the midpoint (herald score > 0, SnowNLP p > 0.5);
- 3-class sets: VADER's documented thresholds (compound >= 0.05 positive, <= -0.05 negative),
  herald's own calibrated band; sign accuracy on the non-neutral texts, a score of exactly the
  midpoint counting as wrong;
- the hand-written car mentions (mixed Chinese and English): also "SnowNLP|VADER", which sends a
  text with any Han character to SnowNLP (neutral when 0.4 < p < 0.6) and the rest to VADER.
"""

import json
import sys
import time
from collections import defaultdict

from snownlp import SnowNLP
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

CHINESE = ["chnsenticorp-test", "online-shopping-10%", "weibo-stripped"]
ENGLISH = ["vader-tweets-25%"]
MIXED = ["car-mentions"]
LABELS = ["negative", "neutral", "positive"]


def macro_f1(pairs):
    total = 0.0
    for label in LABELS:
        tp = sum(1 for p, g in pairs if p == label and g == label)
        fp = sum(1 for p, g in pairs if p == label and g != label)
        fn = sum(1 for p, g in pairs if p != label and g == label)
        total += 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)
    return total / len(LABELS)


def binary_accuracy(gold, positive):
    return sum(1 for g, p in zip(gold, positive) if (g == "positive") == p) / len(gold)


def three_class(gold, labels, signs):
    """signs: +1, -1 or 0 per text (the side of the midpoint the score is on)."""
    acc = sum(1 for g, p in zip(gold, labels) if g == p) / len(gold)
    polar = [(g, s) for g, s in zip(gold, signs) if g != "neutral"]
    sign = sum(1 for g, s in polar if (s > 0 if g == "positive" else s < 0)) / len(polar)
    return acc, macro_f1(list(zip(labels, gold))), sign


def timed(fn, texts, min_seconds=1.0):
    """Runs fn over texts (repeating until min_seconds) and returns (results, texts/s)."""
    start = time.perf_counter()
    results = [fn(t) for t in texts]
    done = len(texts)
    while time.perf_counter() - start < min_seconds:
        for t in texts:
            fn(t)
        done += len(texts)
    return results, done / (time.perf_counter() - start)


def snownlp_p(text):
    if not text.strip():
        return 0.5
    return SnowNLP(text).sentiments


def vader_label(compound):
    if compound >= 0.05:
        return "positive"
    if compound <= -0.05:
        return "negative"
    return "neutral"


def sign(x, mid=0.0):
    return (x > mid) - (x < mid)


def has_han(text):
    return any("\u4e00" <= c <= "\u9fff" for c in text)


def main(path):
    sets = defaultdict(list)
    herald_speed = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r["set"] == "_timing":
                herald_speed[r["of"]] = r["per_second"]
            else:
                sets[r["set"]].append(r)

    vader = SentimentIntensityAnalyzer()
    rows = []  # (set, n, method, accuracy, macro-F1, sign accuracy, texts/s)
    port_agreement = []  # (set, texts where herald's VADER port gives vaderSentiment's compound, n)

    for name in CHINESE:
        recs = sets.get(name, [])
        if not recs:
            continue
        texts = [r["text"] for r in recs]
        gold = [r["gold"] for r in recs]
        h_acc = binary_accuracy(gold, [r["score"] > 0 for r in recs])
        rows.append((name, len(recs), "herald", h_acc, None, None, herald_speed.get(name)))
        p, speed = timed(snownlp_p, texts, min_seconds=0.0)
        s_acc = binary_accuracy(gold, [x > 0.5 for x in p])
        rows.append((name, len(recs), "SnowNLP 0.12.3", s_acc, None, None, speed))

    for name in ENGLISH:
        recs = sets.get(name, [])
        if not recs:
            continue
        texts = [r["text"] for r in recs]
        gold = [r["gold"] for r in recs]
        h = three_class(gold, [r["label"] for r in recs], [sign(r["score"]) for r in recs])
        rows.append((name, len(recs), "herald", *h, herald_speed.get(name)))
        c, speed = timed(lambda t: vader.polarity_scores(t)["compound"], texts)
        v = three_class(gold, [vader_label(x) for x in c], [sign(x) for x in c])
        rows.append((name, len(recs), "VADER 3.3.2", *v, speed))
        if all("vader" in r for r in recs):
            same = sum(1 for r, x in zip(recs, c) if abs(r["vader"] - x) <= 1e-4)
            port_agreement.append((name, same, len(recs)))

    for name in MIXED:
        recs = sets.get(name, [])
        if not recs:
            continue
        texts = [r["text"] for r in recs]
        gold = [r["gold"] for r in recs]
        h = three_class(gold, [r["label"] for r in recs], [sign(r["score"]) for r in recs])
        rows.append((name, len(recs), "herald", *h, herald_speed.get(name)))
        c, speed = timed(lambda t: vader.polarity_scores(t)["compound"], texts)
        v = three_class(gold, [vader_label(x) for x in c], [sign(x) for x in c])
        rows.append((name, len(recs), "VADER 3.3.2", *v, speed))

        def routed(t):
            if has_han(t):
                p = snownlp_p(t)
                return ("neutral" if 0.4 < p < 0.6 else "positive" if p >= 0.6 else "negative",
                        sign(p, 0.5))
            x = vader.polarity_scores(t)["compound"]
            return vader_label(x), sign(x)

        out, speed = timed(routed, texts)
        r = three_class(gold, [o[0] for o in out], [o[1] for o in out])
        rows.append((name, len(recs), "SnowNLP|VADER by script", *r, speed))

    fmt = lambda x: "–" if x is None else f"{x:.3f}"
    print("| set | n | method | accuracy | macro-F1 | sign acc. | texts/s (1 core) | herald ×faster |")
    print("|---|---|---|---|---|---|---|---|")
    herald_acc = {}
    for name, n, method, acc, f1, sgn, speed in rows:
        if method == "herald":
            herald_acc[name] = (acc, f1, sgn)
            ratio = "1"
        else:
            hs = herald_speed.get(name)
            ratio = f"{hs / speed:,.0f}×" if hs and speed else "–"
        print(f"| {name} | {n} | {method} | {fmt(acc)} | {fmt(f1)} | {fmt(sgn)} | "
              f"{speed:,.0f} | {ratio} |" if speed else
              f"| {name} | {n} | {method} | {fmt(acc)} | {fmt(f1)} | {fmt(sgn)} | – | {ratio} |")
    print()
    print("herald minus the other method, in accuracy points (3-class sets: accuracy / macro-F1 / sign):")
    for name, n, method, acc, f1, sgn, _ in rows:
        if method == "herald":
            continue
        h = herald_acc[name]
        parts = [f"{100 * (h[0] - acc):+.1f}"]
        if f1 is not None:
            parts += [f"{100 * (h[1] - f1):+.1f}", f"{100 * (h[2] - sgn):+.1f}"]
        print(f"- {name} vs {method}: {' / '.join(parts)}")
    for name, same, n in port_agreement:
        print(f"herald's port of VADER's rules gives vaderSentiment's compound score (within 0.0001) "
              f"on {same} of {n} texts of {name} (emoji are the known difference: see vader.rs)")


def throughput(path, runs=5):
    """Python's VADER and SnowNLP on the mentions the Rust benchmark timed herald's pipeline on
    (benches/sentiment.rs with HERALD_BENCH_EXPORT), same run, one core: best and median of
    `runs` timings. SnowNLP takes milliseconds a text, so it runs on the first 400 mentions."""
    herald = None
    texts = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if "_timing" in r:
                herald = r
            else:
                texts.append(r["text"])
    vader = SentimentIntensityAnalyzer()

    def rates(fn, sample):
        out = []
        for _ in range(runs):
            start = time.perf_counter()
            for t in sample:
                fn(t)
            out.append(len(sample) / (time.perf_counter() - start))
        out.sort()
        return out[-1], out[len(out) // 2]

    v_best, v_med = rates(lambda t: vader.polarity_scores(t)["compound"], texts)
    s_best, s_med = rates(snownlp_p, texts[:400])
    avg = sum(len(t) for t in texts) / max(1, len(texts))
    print(f"## throughput on one core: {len(texts)} mentions, {avg:.0f} characters on average")
    print("| method | mentions/s (best of 5) | mentions/s (median) | herald's pipeline is × faster (best / median) |")
    print("|---|---|---|---|")
    hb, hm = herald["pipeline_best"], herald["pipeline_median"]
    print(f"| herald: whole pipeline (keywords, sentiment, intent, lead) | {hb:,.0f} | {hm:,.0f} | 1 |")
    print(f"| herald: sentiment alone | {herald['sentiment_best']:,.0f} | {herald['sentiment_median']:,.0f} | – |")
    print(f"| VADER 3.3.2 (sentiment only) | {v_best:,.0f} | {v_med:,.0f} | {hb / v_best:,.1f} / {hm / v_med:,.1f} |")
    print(f"| SnowNLP 0.12.3 (sentiment only; first 400) | {s_best:,.1f} | {s_med:,.1f} | {hb / s_best:,.0f} / {hm / s_med:,.0f} |")
    if herald.get("pipeline_cpu"):
        print(f"herald's pipeline by CPU time (less disturbed by other processes): "
              f"{herald['pipeline_cpu']:,.0f} mentions/s")


def vader_golden(path):
    """Rewrites the golden file of herald's VADER port (tests/fixtures/sentiment_vader_golden.tsv):
    keeps its comment lines and texts, puts vaderSentiment's compound score before each text."""
    vader = SentimentIntensityAnalyzer()
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f.read().split("\n"):
            if not line or line.startswith("#"):
                out.append(line)
                continue
            text = line.split("\t", 1)[1]
            out.append(f"{vader.polarity_scores(text)['compound']}\t{text}")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(out))


def fixture_texts(n):
    """The repository's hand-written fixture texts (last column of tests/fixtures/*.tsv),
    repeated to n: short mentions, as a listener mostly sees them."""
    import glob

    texts = []
    for path in sorted(glob.glob("tests/fixtures/*.tsv")):
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.startswith("#") or not line.strip():
                    continue
                texts.append(line.rstrip("\n").split("\t")[-1])
    return [texts[i % len(texts)] for i in range(n)]


def make_mentions(exported, out_path):
    """Turns the texts the Rust benchmark exported (or, for `fixtures:N`, the fixture texts)
    into Mention lines (docs/contracts.md), with the optional fields a listener fills, for the
    end-to-end comparison."""
    platforms = ["weibo", "mastodon", "bluesky", "forum"]
    if exported.startswith("fixtures:"):
        texts = fixture_texts(int(exported.split(":")[1]))
    else:
        with open(exported, encoding="utf-8") as f:
            rows = [json.loads(line) for line in f]
        texts = [r["text"] for r in rows if "_timing" not in r]
    with open(out_path, "w", encoding="utf-8") as out:
        for i, text in enumerate(texts, start=1):
            m = {
                "id": str(i),
                "platform": platforms[i % 4],
                "author": f"user{i % 997}",
                "text": text,
                "created_at": f"2026-12-0{1 + i % 7}T{i % 24:02}:{i % 60:02}:00Z",
                "url": f"https://example.org/m/{i}",
                "lang": None,
                "author_followers": i % 5000,
            }
            out.write(json.dumps(m, ensure_ascii=False) + "\n")


def vader_end_to_end(in_path, out_path):
    """VADER doing `herald classify`'s job: read Mention lines, score each text, write each
    line back with a `sentiment` object added (label by VADER's documented thresholds)."""
    vader = SentimentIntensityAnalyzer()
    with open(in_path, encoding="utf-8") as f, open(out_path, "w", encoding="utf-8") as out:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            c = vader.polarity_scores(r["text"])["compound"]
            r["sentiment"] = {"label": vader_label(c), "score": c}
            out.write(json.dumps(r, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--vader-golden":
        vader_golden(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "--make-mentions":
        make_mentions(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "--end-to-end":
        vader_end_to_end(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "--throughput":
        throughput(sys.argv[2])
    elif len(sys.argv) == 2:
        main(sys.argv[1])
    else:
        sys.exit("usage: compare_sentiment.py PREDICTIONS.jsonl | --throughput MENTIONS.jsonl"
                 " | --vader-golden FIXTURE.tsv | --make-mentions EXPORT.jsonl|fixtures:N OUT"
                 " | --end-to-end IN.jsonl OUT.jsonl")
