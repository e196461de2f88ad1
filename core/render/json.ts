/**
 * JSON: the Report object as is (its shape is the versioned schema in core/report.ts), byte for byte
 * `JSON.stringify(report, null, 2)` plus a newline — but streamed: one top-level field, or one element of a top-level
 * array (a host), at a time. A 1,000-host report is 12 MB of text; as one string (and its Buffer on the way out) it
 * was the controller's peak memory.
 */
import type { Report } from '../report.js';

/** JSON.stringify's output, indented by `pad` more: formatting newlines are its only raw newlines. */
function indented(value: unknown, pad: string): string {
  const s = JSON.stringify(value, null, 2) ?? 'null'; // undefined / a function inside an array is null, as stringify does
  return s.includes('\n') ? s.replace(/\n/g, `\n${pad}`) : s;
}

/** Values JSON.stringify leaves out of an object. */
const omitted = (v: unknown) => v === undefined || typeof v === 'function' || typeof v === 'symbol';

export function* jsonChunks(report: Report): Generator<string> {
  const entries = Object.entries(report).filter(([, v]) => !omitted(v));
  if (entries.length === 0) {
    yield '{}\n';
    return;
  }
  yield '{\n';
  for (let i = 0; i < entries.length; i++) {
    const [key, value] = entries[i] as [string, unknown];
    const tail = i < entries.length - 1 ? ',\n' : '\n';
    if (Array.isArray(value) && value.length > 0) {
      yield `  ${JSON.stringify(key)}: [\n`;
      for (let j = 0; j < value.length; j++) yield `    ${indented(value[j], '    ')}${j < value.length - 1 ? ',\n' : '\n'}`;
      yield `  ]${tail}`;
    } else {
      yield `  ${JSON.stringify(key)}: ${indented(value, '  ')}${tail}`;
    }
  }
  yield '}\n';
}
