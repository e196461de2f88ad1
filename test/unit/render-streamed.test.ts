/**
 * The streamed renderers: their chunks join to exactly the text a whole-string renderer wrote — JSON is
 * `JSON.stringify(report, null, 2)` byte for byte, Prometheus equals golden files written by the string renderer
 * kdrift had before it streamed (text and Markdown have their golden files in render.test.ts) — and a fleet's report
 * really comes in host-sized pieces, in every format, to a file and to stdout.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixedReport } from '../fixtures/report/fixed-report.js';
import { changedReport } from '../fixtures/report/changed-report.js';
import { render, renderChunks, RENDER_FORMATS } from '../../core/render/index.js';
import { batchedChunks } from '../../core/render/batched.js';
import { writeFileAtomicLocal } from '../../cli/commands/report.js';
import { serveMetrics } from '../../cli/commands/report-nightly.js';
import type { AddressInfo } from 'node:net';
import type { Report } from '../../core/report.js';

const GOLDEN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/report/golden');

/** A fleet of n hosts: the fixture's hosts again and again under new names. */
function fleet(n: number): Report {
  const r = structuredClone(fixedReport);
  r.hosts = Array.from({ length: n }, (_, i) => {
    const h = structuredClone(fixedReport.hosts[i % fixedReport.hosts.length] as Report['hosts'][number]);
    h.name = `h${i}`;
    for (const f of h.findings) f.host = h.name;
    return h;
  });
  r.summary = { ...r.summary, hosts: n };
  return r;
}

describe('streamed renderers', () => {
  it('json_chunks_join_to_JSON_stringify_byte_for_byte', () => {
    const edge = { ...structuredClone(fixedReport), hosts: [], rootCauses: [], durationMs: undefined } as Report;
    for (const [name, r] of [['fixed', fixedReport], ['changes', changedReport()], ['empty arrays, undefined field', edge], ['300 hosts', fleet(300)]] as const) {
      assert.equal([...renderChunks(r, 'json')].join(''), `${JSON.stringify(r, null, 2)}\n`, name);
    }
  });

  it('prom_equals_the_string_renderers_golden_files', () => {
    assert.equal(render(fixedReport, 'prom'), readFileSync(path.join(GOLDEN, 'report.prom'), 'utf8'));
    assert.equal(render(changedReport(), 'prom'), readFileSync(path.join(GOLDEN, 'report-changes.prom'), 'utf8'));
  });

  it('a_fleet_report_comes_in_host_sized_chunks', () => {
    const r = fleet(300);
    for (const fmt of RENDER_FORMATS) {
      const chunks = [...renderChunks(r, fmt, { verbose: true })];
      const whole = chunks.join('').length;
      assert.ok(chunks.length > 300, `${fmt}: ${chunks.length} chunks`);
      const largest = Math.max(...chunks.map((c) => c.length));
      assert.ok(largest < whole / 50, `${fmt}: largest chunk ${largest} of ${whole}`);
    }
  });

  it('batches_are_about_the_size_asked_and_lose_nothing', () => {
    const chunks = Array.from({ length: 1000 }, (_, i) => `chunk ${i} ${'x'.repeat(i % 97)}\n`);
    const batches = [...batchedChunks(chunks, 4096)];
    assert.equal(batches.join(''), chunks.join(''));
    for (const b of batches.slice(0, -1)) assert.ok(b.length >= 4096 && b.length < 4096 + 200, `batch of ${b.length}`);
    assert.deepEqual([...batchedChunks([], 4096)], []);
  });

  it('a_file_written_from_chunks_holds_the_same_bytes_as_from_the_string', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kdrift-streamed-'));
    try {
      const r = fleet(200);
      await writeFileAtomicLocal(path.join(dir, 'chunks.json'), renderChunks(r, 'json'));
      await writeFileAtomicLocal(path.join(dir, 'string.json'), render(r, 'json'));
      assert.equal(readFileSync(path.join(dir, 'chunks.json'), 'utf8'), readFileSync(path.join(dir, 'string.json'), 'utf8'));
      assert.deepEqual(JSON.parse(readFileSync(path.join(dir, 'chunks.json'), 'utf8')), JSON.parse(JSON.stringify(r)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('metrics_served_in_batches_are_the_whole_exposition', async () => {
    const r = fleet(1000);
    const server = await serveMetrics({ host: '127.0.0.1', port: 0 }, () => r);
    try {
      const { port } = server.address() as AddressInfo;
      const body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      assert.ok(body.length > 3 * 64 * 1024, `${body.length} bytes: several batches`);
      assert.equal(body, render(r, 'prom'));
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('stdout_gets_the_whole_text_through_a_pipe', () => {
    // a child process writes a 200-host report with writeOut; the pipe must carry every byte
    const script = `
      import { writeOut } from ${JSON.stringify(path.resolve(GOLDEN, '../../../../cli/stdout.ts'))};
      import { renderChunks } from ${JSON.stringify(path.resolve(GOLDEN, '../../../../core/render/index.ts'))};
      import { readFileSync } from 'node:fs';
      const r = JSON.parse(readFileSync(0, 'utf8'));
      await writeOut(renderChunks(r, 'json'));`;
    const r = fleet(200);
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { input: JSON.stringify(r), maxBuffer: 64 * 1024 * 1024 }).toString();
    assert.equal(out, `${JSON.stringify(r, null, 2)}\n`);
  });
});
