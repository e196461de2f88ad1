#!/usr/bin/env bash
# The main job on the embedded lab (README's first command): set up, bring the lab fleet up, and write the drift
# report for it — config and eBPF-observed behaviour — as text on stdout and JSON/Markdown/HTML/JUnit/Prometheus files.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
node bin/kdrift.js lab up || exit 1
mkdir -p .lab/report
# Behaviour is judged on real connections only (the probe's own test connections are reported apart): the lab's
# client sends HTTP requests across the WAN while the probe observes, as production traffic would.
(sleep 3; node bin/kdrift.js lab load --requests 40 --size 256KiB --concurrency 2 >/dev/null 2>&1) &
load=$!
node bin/kdrift.js report --stack lab --probe --format text \
  --output json=.lab/report/report.json --output md=.lab/report/report.md --output html=.lab/report/report.html \
  --output junit=.lab/report/junit.xml --output prom=.lab/report/kdrift.prom
rc=$?
wait "$load"
echo "reports written to .lab/report/ (exit $rc: 0 no drift, 2 drift, 1 could not check); 'node bin/kdrift.js lab down' removes the lab"
exit $rc
