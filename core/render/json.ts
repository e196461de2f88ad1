/** JSON: the Report object as is (its shape is the versioned schema in core/report.ts). */
import type { Report } from '../report.js';

export function renderJson(report: Report): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
