#!/usr/bin/env bash
# Same-run comparison of herald's sentiment model with SnowNLP and VADER on the held-out sets.
#
#   bash benches/compare_sentiment.sh [DATA_DIR]      # default: ../shared/data/sentiment
#
# Makes a venv under target/ with pinned SnowNLP and vaderSentiment (from PyPI), has the training
# program measure the embedded model and dump its predictions and throughput, then runs the two
# Python libraries on the same texts and prints one table. Everything runs pinned to one core.
set -euo pipefail
cd "$(dirname "$0")/.."

DATA="${1:-../shared/data/sentiment}"
VENV=target/sentiment-venv
PRED=target/sentiment-predictions.jsonl

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
