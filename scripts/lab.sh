#!/usr/bin/env bash
# The main job on the embedded lab (README's first command): set up, bring the lab fleet up, and write the drift
# report for it — config and eBPF-observed behaviour — as text on stdout and JSON/Markdown/HTML/JUnit/Prometheus files.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
node bin/kdrift.js lab up || exit 1
mkdir -p .lab/report
node bin/kdrift.js report --stack lab --probe --format text \
  --output json=.lab/report/report.json --output md=.lab/report/report.md --output html=.lab/report/report.html \
  --output junit=.lab/report/junit.xml --output prom=.lab/report/kdrift.prom
rc=$?
echo "reports written to .lab/report/ (exit $rc: 0 no drift, 2 drift, 1 could not check); 'node bin/kdrift.js lab down' removes the lab"
exit $rc
