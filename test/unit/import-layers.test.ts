/**
 * The house rule for imports: a file imports only from its own layer or below, and a folder with an entry module is
 * entered through it. Every .ts file of the repository is read with the TypeScript compiler's own import scanner
 * (static imports, `export … from`, `import type`, literal `import()`), so a new file that breaks the rule fails here.
 *
 * To place a new folder (stacks/provider/, gate/, watch/): add one row to PLACES. A file no row covers fails too.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Bottom to top. A file may import its own layer and any layer listed before it. */
const LAYERS = [
  'base', //         errors, argument and duration parsing: no kdrift imports
  'transport', //    HostSession (local, ssh2), known_hosts, shell quoting, the concurrency pool
  'model', //        inventory, findings, the report and its renderers, suppressions, sysctl keys
  'agent', //        probe/: the on-host eBPF agent library (native/ and bpf/ are not TypeScript)
  'kinds', //        check kinds, sysctl rules, and the baseline schema that unites the kinds' specs
  'engine', //       plan → collect → judge → verdict
  'remediation', //  plan / apply / verify / undo
  'declarations', // the fleet's role baselines
  'lab', //          the embedded fleet
  'faces', //        cli/, the Pulumi program and provider, gate, watch, the package's library entry
  'bench', //        benchmarks: may use everything but tests
  'tests', //        test/: may use everything
] as const;
type Layer = (typeof LAYERS)[number];

interface Place {
  /** A file, or a folder ending in '/'. The longest matching row wins. */
  path: string;
  layer: Layer;
  /** Files outside the folder import only this module of it. */
  entry?: string;
  /** Modules of the folder that others may import besides the entry, each with why. */
  alsoPublic?: Record<string, string>;
}

const PLACES: Place[] = [
  { path: 'core/errors.ts', layer: 'base' },
  { path: 'core/zod-error.ts', layer: 'base' },
  { path: 'core/duration.ts', layer: 'base' },
  { path: 'core/input-file.ts', layer: 'base' },
  { path: 'core/yaml.ts', layer: 'base' },
  { path: 'core/lazy-require.ts', layer: 'base' },
  { path: 'core/glob.ts', layer: 'base' },
  { path: 'core/terminal-text.ts', layer: 'base' },
  { path: 'core/command.ts', layer: 'base' },
  { path: 'core/package-root.ts', layer: 'base' },

  { path: 'core/session.ts', layer: 'transport' },
  { path: 'core/session-defaults.ts', layer: 'transport' },
  { path: 'core/session-output.ts', layer: 'transport' },
  { path: 'core/session-kept.ts', layer: 'transport' },
  { path: 'core/session-input.ts', layer: 'transport' },
  { path: 'core/session-local.ts', layer: 'transport' },
  { path: 'core/session-ssh.ts', layer: 'transport' },
  { path: 'core/sessions.ts', layer: 'transport' },
  { path: 'core/ssh-connect.ts', layer: 'transport' },
  { path: 'core/known-hosts.ts', layer: 'transport' },
  { path: 'core/shell-quote.ts', layer: 'transport' },
  { path: 'core/host-file-error.ts', layer: 'transport' },
  { path: 'core/pool.ts', layer: 'transport' },

  { path: 'core/inventory.ts', layer: 'model' },
  { path: 'core/finding.ts', layer: 'model' },
  { path: 'core/report.ts', layer: 'model' },
  { path: 'core/report-diff.ts', layer: 'model' },
  { path: 'core/suppressions.ts', layer: 'model' },
  { path: 'core/sysctl-key.ts', layer: 'model' },
  { path: 'core/render/', layer: 'model', entry: 'core/render/index.ts' },

  { path: 'probe/', layer: 'agent', entry: 'probe/index.ts' },

  {
    path: 'checks/',
    layer: 'kinds',
    entry: 'checks/index.ts',
    alsoPublic: {
      'checks/registry.ts': 'core/baseline.ts takes the behaviour spec union from here: through the entry, checks/sysctl.ts would import the baseline back before it is defined',
    },
  },
  { path: 'core/sysctl-rules/', layer: 'kinds' },
  // Declares behaviours too, whose specs are the check kinds' own schemas.
  { path: 'core/baseline.ts', layer: 'kinds' },
  { path: 'core/baseline-file.ts', layer: 'kinds' },

  { path: 'core/engine/', layer: 'engine', entry: 'core/engine/index.ts' },

  {
    path: 'remediation/',
    layer: 'remediation',
    entry: 'remediation/index.ts',
  },

  { path: 'stacks/roles/', layer: 'declarations' },
  { path: 'stacks/baselines.ts', layer: 'declarations' },

  { path: 'lab/', layer: 'lab' },

  { path: 'cli/', layer: 'faces' },
  { path: 'stacks/', layer: 'faces' },
  // Faces on their way (issue 12): placed now so their first file is already covered.
  { path: 'stacks/provider/', layer: 'faces' },
  { path: 'gate/', layer: 'faces' },
  { path: 'watch/', layer: 'faces' },
  // The package's library entry (package.json exports): what the faces offer other programs.
  { path: 'index.ts', layer: 'faces' },

  { path: 'bench/', layer: 'bench' },
  // Generators of shipped files (schema/report-v<N>.json, contrib/ completion and man page) from the model and faces.
  { path: 'scripts/', layer: 'bench' },

  { path: 'test/', layer: 'tests' },
];

/** Where no layer rule applies: generated or third-party trees. */
const SKIP = ['node_modules/', 'dist/', 'native/build/', '.lab/', '.git/'];

function placeOf(file: string): Place | undefined {
  let best: Place | undefined;
  for (const p of PLACES) {
    const hit = p.path.endsWith('/') ? file.startsWith(p.path) : file === p.path;
    if (hit && (!best || p.path.length > best.path.length)) best = p;
  }
  return best;
}

function tsFiles(dir = ''): string[] {
  const out: string[] = [];
  for (const ent of fs.readdirSync(path.join(REPO, dir), { withFileTypes: true })) {
    const rel = dir ? `${dir}/${ent.name}` : ent.name;
    if (SKIP.some((s) => `${rel}/`.startsWith(s))) continue;
    if (ent.isDirectory()) out.push(...tsFiles(rel));
    else if (ent.isFile() && rel.endsWith('.ts') && !rel.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

/** A relative specifier as the repo file it names: `./x.js` is x.ts, a folder is its index.ts. */
function resolveImport(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const abs = path.posix.normalize(path.posix.join(path.posix.dirname(from), spec));
  const candidates = [abs.replace(/\.js$/, '.ts'), abs, `${abs}.ts`, `${abs}/index.ts`];
  return candidates.find((c) => fs.existsSync(path.join(REPO, c)) && fs.statSync(path.join(REPO, c)).isFile()) ?? abs;
}

interface Edge {
  from: string;
  to: string;
  spec: string;
}

function importsOf(file: string): Edge[] {
  const text = fs.readFileSync(path.join(REPO, file), 'utf8');
  const info = ts.preProcessFile(text, true, true);
  const edges: Edge[] = [];
  for (const ref of info.importedFiles) {
    const to = resolveImport(file, ref.fileName);
    if (to !== undefined) edges.push({ from: file, to, spec: ref.fileName });
  }
  return edges;
}

const rank = (l: Layer) => LAYERS.indexOf(l);
const files = tsFiles();
const edges = files.flatMap(importsOf);

describe('import layers', () => {
  it('finds the source files and their imports', () => {
    assert.ok(files.includes('core/errors.ts') && files.includes('test/unit/import-layers.test.ts'));
    assert.ok(edges.length > 300, `only ${edges.length} imports read: the scanner is broken`);
  });

  it('places every .ts file in a layer', () => {
    const unplaced = files.filter((f) => placeOf(f) === undefined);
    assert.deepEqual(unplaced, [], 'add a row to PLACES in test/unit/import-layers.test.ts for these files');
  });

  it('every import resolves to a file of the repository', () => {
    const missing = edges.filter((e) => !fs.existsSync(path.join(REPO, e.to))).map((e) => `${e.from} → '${e.spec}'`);
    assert.deepEqual(missing, []);
  });

  it('no file imports a layer above its own', () => {
    const upward: string[] = [];
    for (const e of edges) {
      const a = placeOf(e.from);
      const b = placeOf(e.to);
      if (!a || !b) continue;
      if (rank(b.layer) > rank(a.layer)) upward.push(`${e.from} (${a.layer}) → ${e.to} (${b.layer})`);
    }
    assert.deepEqual(upward, [], `imports that run up the layers (${LAYERS.join(' < ')})`);
  });

  // Tests may reach inside a folder: a unit test tests the module it names.
  it('folders with an entry module are imported through it (tests aside)', () => {
    const inside: string[] = [];
    for (const e of edges) {
      const b = placeOf(e.to);
      if (!b?.entry || e.from.startsWith('test/') || e.from.startsWith(b.path) || e.to === b.entry) continue;
      if (b.alsoPublic && e.to in b.alsoPublic) continue;
      inside.push(`${e.from} → ${e.to} (import ${b.entry} instead)`);
    }
    assert.deepEqual(inside, []);
  });
});

/** The rules above, checked against themselves: a table that lets anything through would pass every test. */
describe('import layers: the table', () => {
  it('ranks layers bottom to top', () => {
    assert.ok(rank((placeOf('core/errors.ts') as Place).layer) < rank((placeOf('core/session-ssh.ts') as Place).layer));
    assert.ok(rank((placeOf('probe/agent.ts') as Place).layer) < rank((placeOf('checks/sysctl.ts') as Place).layer));
    assert.ok(rank((placeOf('cli/main.ts') as Place).layer) > rank((placeOf('remediation/host.ts') as Place).layer));
    assert.ok(rank((placeOf('bench/ssh-fanout.ts') as Place).layer) < rank((placeOf('test/unit/pool.test.ts') as Place).layer));
  });
  it('lets the longest row win (a file row inside a folder row)', () => {
    assert.equal(placeOf('stacks/baselines.ts')?.layer, 'declarations');
    assert.equal(placeOf('stacks/index.ts')?.layer, 'faces');
    assert.equal(placeOf('core/engine/index.ts')?.layer, 'engine');
  });
});
