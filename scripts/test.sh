#!/usr/bin/env bash
# The test command (README; .ci/run runs exactly this): set up, type-check sources and tests, run every mocha test,
# end with one counts line (a failed type check counts as one failure).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || { echo "0 passed, 1 failed"; exit 1; }
typecheck_failed=0
npm run --silent typecheck || typecheck_failed=1
out=$(mktemp)
npx mocha 'test/unit/**/*.test.ts' 'test/e2e/**/*.test.ts' 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
passed=$(grep -Eo '^ +[0-9]+ passing' "$out" | grep -Eo '[0-9]+' | tail -1)
failed=$(grep -Eo '^ +[0-9]+ failing' "$out" | grep -Eo '[0-9]+' | tail -1)
rm -f "$out"
if [ "$typecheck_failed" -ne 0 ]; then
  echo "type check failed: npm run typecheck"
  [ "$rc" -ne 0 ] || rc=1
fi
echo "${passed:-0} passed, $(( ${failed:-0} + typecheck_failed )) failed"
exit "$rc"
