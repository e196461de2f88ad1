/**
 * Writes schema/report-v<N>.json: the JSON Schema of `kdrift report --format json`, generated from the zod schema the
 * code itself uses (core/report.ts), so the shipped schema cannot drift from the output. `--check` exits 1 when the
 * file on disk differs (test/unit/report-schema.test.ts runs the same comparison).
 *   npx tsx scripts/gen-schema.ts [--check]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { zodToJsonSchema } from 'zod-to-json-schema';
import { REPORT_VERSION, reportSchema } from '../core/report.js';

export const SCHEMA_FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), `../schema/report-v${REPORT_VERSION}.json`);

export function reportJsonSchemaText(): string {
  const generated = zodToJsonSchema(reportSchema, { target: 'jsonSchema7', $refStrategy: 'none' }) as Record<string, unknown>;
  const schema = {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: `urn:kdrift:schema:report-v${REPORT_VERSION}`,
    title: `kdrift report, version ${REPORT_VERSION}`,
    description: 'Generated from core/report.ts by scripts/gen-schema.ts; do not edit.',
    ...Object.fromEntries(Object.entries(generated).filter(([k]) => k !== '$schema')),
  };
  return `${JSON.stringify(schema, null, 2)}\n`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const text = reportJsonSchemaText();
  if (process.argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(SCHEMA_FILE, 'utf8');
    } catch {
      /* missing: differs */
    }
    if (current !== text) {
      process.stderr.write(`${SCHEMA_FILE} is out of date: run npx tsx scripts/gen-schema.ts\n`);
      process.exit(1);
    }
  } else {
    writeFileSync(SCHEMA_FILE, text);
    process.stdout.write(`wrote ${SCHEMA_FILE}\n`);
  }
}
