#!/usr/bin/env bash
# The test command (README; .ci/run runs exactly this): set up, run every mocha test, end with one counts line.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || { echo "0 passed, 1 failed"; exit 1; }
out=$(mktemp)
npx mocha 'test/unit/**/*.test.ts' 'test/e2e/**/*.test.ts' 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
passed=$(grep -Eo '^ +[0-9]+ passing' "$out" | grep -Eo '[0-9]+' | tail -1)
failed=$(grep -Eo '^ +[0-9]+ failing' "$out" | grep -Eo '[0-9]+' | tail -1)
rm -f "$out"
echo "${passed:-0} passed, ${failed:-0} failed"
exit "$rc"
