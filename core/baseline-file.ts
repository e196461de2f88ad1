import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { yaml } from './yaml.js';
import { parseBaseline, type Baseline } from './baseline.js';
import { KdriftError } from './errors.js';
import { readInputFile } from './input-file.js';

/** A baseline file: YAML or JSON; or a JS/TS module exporting `baseline` (raw declarations) or `fleetBaseline()`. */
export async function loadBaselineFile(file: string): Promise<Baseline> {
  const abs = path.resolve(file);
  if (/\.(m?[jt]s)$/.test(abs)) {
    const mod = (await import(pathToFileURL(abs).href)) as { fleetBaseline?: () => Baseline; baseline?: unknown };
    if (typeof mod.fleetBaseline === 'function') return mod.fleetBaseline();
    if (mod.baseline !== undefined) return parseBaseline(mod.baseline, abs);
    throw new KdriftError('module exports neither fleetBaseline() nor baseline', abs);
  }
  const text = await readInputFile(abs);
  let doc: unknown;
  try {
    doc = yaml().parse(text);
  } catch (err) {
    throw new KdriftError(`not valid YAML: ${(err as Error).message.split('\n')[0]}`, abs);
  }
  return parseBaseline(doc, abs);
}
