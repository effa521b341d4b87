#!/usr/bin/env bash
# The README's test command: set up what is missing, run the tap suite, and end with a plain
# "N passed, N failed" line. A green run lists every test file and its top-level tests; a red
# one prints the whole TAP stream so the failure's diagnostics are all there.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh || exit 1

mkdir -p test-artifacts
report=test-artifacts/tap-report.txt
node_modules/.bin/tap --reporter=tap "$@" >"$report" 2>&1
rc=$?

if [[ $rc -eq 0 ]]; then
  grep -E '^( {4})?(not )?ok [0-9]+ ' "$report"
else
  cat "$report"
fi
# Top-level TAP results of each file's tests (indent 4): the tests, not their assertions.
passed=$(grep -cE '^ {4}ok [0-9]+ ' "$report")
failed=$(grep -cE '^ {4}not ok [0-9]+ |^not ok [0-9]+ ' "$report")
asserts=$(grep -E '^# \{ total' "$report" | tail -1)
echo "assertions: ${asserts#\# }"
echo "${passed} passed, ${failed} failed"
exit $rc
