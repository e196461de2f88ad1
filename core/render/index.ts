/** One Report in, one text out, per format: as chunks (streamed to a file or stdout) or as one string. */
import type { Report } from '../report.js';
import type { RenderFormat } from './common.js';
import { renderText, type TextOptions } from './text.js';
import { jsonChunks } from './json.js';
import { renderMarkdown } from './markdown.js';
import { renderJunit } from './junit.js';
import { renderHtml } from './html.js';
import { prometheusChunks } from './prometheus.js';

export { RENDER_FORMATS, type RenderFormat } from './common.js';
export { batchedChunks } from './batched.js';

/**
 * The text in pieces whose concatenation is the whole: the formats a fleet makes large (json, prom) come a host at a
 * time; the others, which show what needs attention rather than every finding, in one piece.
 */
export function renderChunks(report: Report, format: RenderFormat, text: TextOptions = {}): Iterable<string> {
  switch (format) {
    case 'text':
      return [renderText(report, text)];
    case 'json':
      return jsonChunks(report);
    case 'md':
      return [renderMarkdown(report)];
    case 'junit':
      return [renderJunit(report)];
    case 'html':
      return [renderHtml(report)];
    case 'prom':
      return prometheusChunks(report);
  }
}

export function render(report: Report, format: RenderFormat, text: TextOptions = {}): string {
  return [...renderChunks(report, format, text)].join('');
}
