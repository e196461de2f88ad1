/**
 * Every error class kdrift defines is a KdriftError: the CLI prints those as one line and callers of the library
 * catch one type. Read from the sources, so a new `class XError extends Error` fails here.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { REPO } from '../support/dist.js';
import { KdriftError } from '../../core/errors.js';
import { StalePlanError } from '../../remediation/kind.js';

const PRODUCT = ['index.ts', 'core', 'checks', 'probe', 'remediation', 'cli', 'lab', 'stacks'];

function sources(rel: string): string[] {
  if (rel.endsWith('.ts')) return [rel];
  return readdirSync(path.join(REPO, rel), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(`${rel}/${e.name}`) : e.name.endsWith('.ts') ? [`${rel}/${e.name}`] : [],
  );
}

/** class name → the class it extends, and where it is declared. */
function errorClasses(): Map<string, { base: string; file: string }> {
  const out = new Map<string, { base: string; file: string }>();
  for (const file of PRODUCT.flatMap(sources)) {
    const sf = ts.createSourceFile(file, readFileSync(path.join(REPO, file), 'utf8'), ts.ScriptTarget.ES2022);
    const visit = (node: ts.Node): void => {
      if ((ts.isClassDeclaration(node) || ts.isClassExpression(node)) && node.name) {
        const ext = node.heritageClauses?.find((h) => h.token === ts.SyntaxKind.ExtendsKeyword)?.types[0];
        out.set(node.name.text, { base: ext ? ext.expression.getText(sf) : '', file });
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  return out;
}

describe('error classes', () => {
  it('every class named *Error extends KdriftError (directly or through another kdrift error)', () => {
    const classes = errorClasses();
    const bad: string[] = [];
    for (const [name, { file }] of classes) {
      if (!name.endsWith('Error') || name === 'KdriftError') continue;
      let at = name;
      const seen = new Set<string>();
      while (at !== 'KdriftError' && classes.has(at) && !seen.has(at)) {
        seen.add(at);
        at = (classes.get(at) as { base: string }).base;
      }
      if (at !== 'KdriftError') bad.push(`${file}: ${name} extends ${classes.get(name)?.base || 'nothing'}`);
    }
    assert.ok(classes.has('StalePlanError') && classes.has('HostError'), 'the scan found no error classes');
    assert.deepEqual(bad, []);
  });

  it('StalePlanError is a KdriftError at run time', () => {
    const e = new StalePlanError('net.ipv4.tcp_sack is 0 now');
    assert.ok(e instanceof KdriftError);
    assert.equal(e.name, 'StalePlanError');
    assert.equal(e.message, 'net.ipv4.tcp_sack is 0 now');
  });
});
