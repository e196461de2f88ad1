/** One Report in, one text out, per format: as chunks (streamed to a file or stdout) or as one string. */
import type { Report } from '../report.js';
import type { RenderFormat } from './common.js';
import { textChunks, type TextOptions } from './text.js';
import { jsonChunks } from './json.js';
import { markdownChunks } from './markdown.js';
import { junitChunks } from './junit.js';
import { htmlChunks } from './html.js';
import { prometheusChunks } from './prometheus.js';

export { RENDER_FORMATS, type RenderFormat } from './common.js';
export { batchedChunks, batchesOf } from './batched.js';

/**
 * The text in pieces whose concatenation is the whole, a host (or a line) at a time: a 1,000-host report is megabytes
 * in every format, and is never one string on its way to a file or stdout.
 */
export function renderChunks(report: Report, format: RenderFormat, text: TextOptions = {}): Iterable<string> {
  switch (format) {
    case 'text':
      return textChunks(report, text);
    case 'json':
      return jsonChunks(report);
    case 'md':
      return markdownChunks(report);
    case 'junit':
      return junitChunks(report);
    case 'html':
      return htmlChunks(report);
    case 'prom':
      return prometheusChunks(report);
  }
}

export function render(report: Report, format: RenderFormat, text: TextOptions = {}): string {
  return [...renderChunks(report, format, text)].join('');
}
