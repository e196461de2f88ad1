/**
 * The HTML report as an on-call engineer sees it: rendered by headless Chromium (Debian's package), the DOM after
 * layout checked for the verdict banner, the root cause with its next step and the fleet picture with its legs. Chromium
 * runs without a network (its own empty netns) and its net log shows the page requested nothing beyond itself.
 */
import assert from 'node:assert/strict';
import { fixedReport } from '../fixtures/report/fixed-report.js';
import { render } from '../../core/render/index.js';
import type { Report } from '../../core/report.js';
import { chromiumDom, pageRequests as requestedUrls } from '../support/conformance.js';

describe('HTML report in headless Chromium (e2e)', function () {
  this.timeout(180_000);

  it('drift_report_shows_the_banner_the_root_cause_first_and_the_fleet_picture_with_nothing_fetched', async () => {
    const { dom, netlog } = await chromiumDom(render(fixedReport, 'html'));
    assert.match(dom, /<div id="verdict" class="banner banner-error" role="status">Drift: lb: net\.ipv4\.tcp_window_scaling = 0/);
    assert.ok(dom.indexOf('id="verdict"') < dom.indexOf('Root causes (1)'), 'banner first');
    assert.ok(dom.indexOf('Root causes (1)') < dom.indexOf('<svg id="fleet"'), 'root causes before the picture');
    assert.match(dom, /Next step: <span class="next next-command">kdrift fix --host lb --stack lab --dry-run<\/span>/);
    // The picture, as parsed by the browser: the SVG element with hosts and both legs, the lb → app1 leg red.
    assert.match(dom, /<svg id="fleet"[^>]*>/);
    for (const h of ['lb', 'app1', 'app2', 'client', '10.72.1.1']) assert.match(dom, new RegExp(`<g class="node node-[a-z]+" data-host="${h.replace(/\./g, '\\.')}">`), h);
    assert.match(dom, /<g class="leg leg-bad" data-from="lb" data-to="app1" data-port="8080" data-share="0\.00">/);
    assert.match(dom, /<g class="leg leg-bad" data-from="10\.72\.1\.1" data-to="lb" data-port="80"/);
    // ok rows collapsed: a <details> without `open`.
    assert.match(dom, /<details class="ok-rows"><summary class="ok">2 ok checks<\/summary>/);
    assert.ok(!/<details[^>]* open/.test(dom));
    assert.deepEqual(requestedUrls(netlog), []);
  });

  it('clean_report_says_so_in_one_line', async () => {
    const clean: Report = {
      ...fixedReport,
      rootCauses: [],
      summary: { hosts: 2, drifted: 0, errors: 0, findings: 0, suppressed: 0, unknown: 0, rootCauses: 0, consequences: 0 },
      hosts: [
        { name: 'lb', roles: ['load-balancer'], status: 'ok', findings: [{ host: 'lb', check: 'sysctl', key: 'net.ipv4.tcp_sack', layer: 'runtime', status: 'ok', expected: '= 1', actual: '1', severity: 'high' }] },
        { name: 'app1', roles: ['app-node'], status: 'ok', findings: [] },
      ],
      legs: [{ from: 'lb', to: 'app1', port: 8080, connections: 20, negotiated: 20, observedBy: 'lb' }],
      expiredSuppressions: [],
    };
    const { dom, netlog } = await chromiumDom(render(clean, 'html'));
    assert.match(dom, /<div id="verdict" class="banner banner-ok" role="status">No drift: 2 hosts checked, every declared value is in place and behaviour matches\.<\/div>/);
    assert.ok(!dom.includes('Root causes'));
    assert.ok(!dom.includes('need attention'));
    assert.match(dom, /<g class="leg leg-good" data-from="lb" data-to="app1"/);
    assert.match(dom, /<details class="ok-hosts"><summary class="ok">2 hosts ok: app1, lb<\/summary>/);
    assert.deepEqual(requestedUrls(netlog), []);
  });
});
