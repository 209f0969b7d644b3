#!/usr/bin/env bash
# The whole test suite on both store backends (run it inside tests/peers/with-peers.sh, which
# starts the peers and herald's PostgreSQL): every test on sled (the library's store tests run on
# PostgreSQL too), then the integration tests again with every herald on PostgreSQL.
set -euo pipefail
echo "== tests, sled (store tests on both backends)"
cargo test --locked "$@"
echo "== integration tests, PostgreSQL (HERALD_TEST_BACKEND=postgres)"
HERALD_TEST_BACKEND=postgres cargo test --locked --test it "$@"
