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
#
#   bash benches/compare_sentiment.sh --end-to-end DATA/sentiment [MENTIONS] [ROUNDS]
#
# End to end instead: MENTIONS (default 100,000) Mention lines built by the Rust benchmark from
# the same data (which also prints herald's pure pipeline on one core), then ROUNDS (default 3)
# rounds of: `herald classify FILE > OUT` on one core, the same on all cores, and Python
# vaderSentiment doing the same job (read JSON Lines, score, write JSON Lines) on one core.
# Each is timed as a whole process, start-up included. HERALD_E2E_FIXTURES=1: the mentions'
# texts are the repository's fixture texts repeated (short, as listeners mostly see them)
# instead of the benchmark's 200-character ones.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--end-to-end" ]; then
    E2E=1
    shift
fi
DATA="${1:?usage: bash benches/compare_sentiment.sh DATA/sentiment (see docs/data.md)}"
VENV=target/sentiment-venv
PRED=target/sentiment-predictions.jsonl
MENTIONS=target/sentiment-bench-mentions.jsonl

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check snownlp==0.12.3 vaderSentiment==3.3.2

ONE_CORE=()
if command -v taskset >/dev/null; then
    ONE_CORE=(taskset -c 0)
fi

if [ -n "${E2E:-}" ]; then
    N="${2:-100000}"
    ROUNDS="${3:-3}"
    IN=target/classify-e2e-in.jsonl
    OUT=target/classify-e2e-out.jsonl
    cargo build --release --quiet --bin herald
    echo "## herald's pure pipeline on one core (the bench's learned pipeline row)"
    HERALD_SENTIMENT_DATA="$DATA" HERALD_BENCH_EXPORT="$MENTIONS" HERALD_BENCH_MENTIONS="$N" \
        HERALD_BENCH_RUNS=3 "${ONE_CORE[@]}" cargo bench --quiet --bench sentiment
    SOURCE="$MENTIONS"
    if [ -n "${HERALD_E2E_FIXTURES:-}" ]; then
        SOURCE="fixtures:$N"
    fi
    "$VENV/bin/python" benches/compare_sentiment.py --make-mentions "$SOURCE" "$IN"
    lines=$(wc -l <"$IN")
    # seconds OUT COMMAND...: the wall time of COMMAND with its stdout in OUT.
    seconds() {
        local out=$1 start end
        shift
        start=$(date +%s%N)
        "$@" >"$out"
        end=$(date +%s%N)
        echo "scale=3; ($end - $start) / 1000000000" | bc
    }
    echo
    echo "## end to end: $lines mentions, JSON Lines in and out, whole process, $ROUNDS rounds"
    echo "| round | herald, one core (s) | herald, all $(nproc) cores (s) | VADER 3.3.2, one core (s) |"
    echo "|---|---|---|---|"
    for round in $(seq 1 "$ROUNDS"); do
        one=$(seconds "$OUT" "${ONE_CORE[@]}" target/release/herald classify "$IN")
        all=$(seconds "$OUT" target/release/herald classify "$IN")
        vader=$(seconds /dev/null "${ONE_CORE[@]}" "$VENV/bin/python" benches/compare_sentiment.py \
            --end-to-end "$IN" "$OUT.vader")
        echo "| $round | $one | $all | $vader |"
        printf '|   mentions/s | %.0f | %.0f | %.0f |\n' \
            "$(echo "$lines / $one" | bc -l)" "$(echo "$lines / $all" | bc -l)" \
            "$(echo "$lines / $vader" | bc -l)"
        printf '|   herald / VADER | %.1f× | %.1f× | 1 |\n' \
            "$(echo "$vader / $one" | bc -l)" "$(echo "$vader / $all" | bc -l)"
    done
    exit 0
fi

cargo build --release --quiet --bin herald-train-sentiment

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
