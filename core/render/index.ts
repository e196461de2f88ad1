/** One Report in, one string out, per format. */
import type { Report } from '../report.js';
import type { RenderFormat } from './common.js';
import { renderText, type TextOptions } from './text.js';
import { renderJson } from './json.js';
import { renderMarkdown } from './markdown.js';
import { renderJunit } from './junit.js';
import { renderHtml } from './html.js';
import { renderPrometheus } from './prometheus.js';

export { RENDER_FORMATS, type RenderFormat } from './common.js';

export function render(report: Report, format: RenderFormat, text: TextOptions = {}): string {
  switch (format) {
    case 'text':
      return renderText(report, text);
    case 'json':
      return renderJson(report);
    case 'md':
      return renderMarkdown(report);
    case 'junit':
      return renderJunit(report);
    case 'html':
      return renderHtml(report);
    case 'prom':
      return renderPrometheus(report);
  }
}
