#!/usr/bin/env bash
# Same-run comparison of herald with SnowNLP and VADER: accuracy on the held-out sets, and
# throughput on the same 200-character mentions.
#
#   bash benches/compare_sentiment.sh DATA/sentiment   # the public data of docs/data.md
#
# Makes a venv under target/ with pinned SnowNLP and vaderSentiment (from PyPI), then
# 1. has the training program measure the embedded model on the held-out sets and dump its
#    predictions, and runs the two Python libraries on the same texts (accuracy table);
# 2. runs the Rust benchmark (benches/sentiment.rs: herald's whole pipeline and its parts on
#    20,000 mentions of 200 characters on average) and times the Python libraries on the same
#    mentions (throughput table, with ratios).
# Everything runs pinned to one core.
set -euo pipefail
cd "$(dirname "$0")/.."

DATA="${1:?usage: bash benches/compare_sentiment.sh DATA/sentiment (see docs/data.md)}"
VENV=target/sentiment-venv
PRED=target/sentiment-predictions.jsonl
MENTIONS=target/sentiment-bench-mentions.jsonl

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check snownlp==0.12.3 vaderSentiment==3.3.2

cargo build --release --quiet --bin herald-train-sentiment

ONE_CORE=()
if command -v taskset >/dev/null; then
    ONE_CORE=(taskset -c 0)
fi

echo "## herald's own table (embedded model)"
"${ONE_CORE[@]}" target/release/herald-train-sentiment --data "$DATA" --eval-only \
    --dump-predictions "$PRED"
echo
echo "## same texts, same run"
"${ONE_CORE[@]}" "$VENV/bin/python" benches/compare_sentiment.py "$PRED"
echo
echo "## herald's pipeline, where its time goes"
HERALD_SENTIMENT_DATA="$DATA" HERALD_BENCH_EXPORT="$MENTIONS" \
    "${ONE_CORE[@]}" cargo bench --quiet --bench sentiment
echo
"${ONE_CORE[@]}" "$VENV/bin/python" benches/compare_sentiment.py --throughput "$MENTIONS"
