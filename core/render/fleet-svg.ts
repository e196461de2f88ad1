/**
 * The fleet picture: an inline SVG of the hosts and the connection legs the probes saw, each leg coloured by the share
 * of its connections that negotiated window scaling. Nodes are laid out in columns by how far they are from a node
 * nothing connects to (client → lb → app); hosts without legs sit in the first column. Pure string building, escaped, a
 * node or leg at a time.
 */
import type { HostReport, Leg, Report } from '../report.js';
import { escapeXml as e } from './xml-escape.js';

const COL_W = 230;
const ROW_H = 70;
const NODE_W = 130;
const NODE_H = 36;
const PAD = 20;

export function shareClass(leg: Pick<Leg, 'connections' | 'negotiated'>): 'good' | 'partial' | 'bad' {
  const share = leg.connections > 0 ? leg.negotiated / leg.connections : 1;
  return share >= 0.99 ? 'good' : share >= 0.5 ? 'partial' : 'bad';
}

/** The picture a leg or a node at a time (a 1,000-host fleet is 1,000 nodes). */
export function* fleetSvgChunks(report: Report): Generator<string> {
  const legs = report.legs ?? [];
  const hosts = new Map<string, HostReport>(report.hosts.map((h) => [h.name, h]));
  const names = [...new Set([...report.hosts.map((h) => h.name), ...legs.flatMap((l) => [l.from, l.to])])];
  const column = columns(names, legs);
  const perColumn = new Map<number, string[]>();
  for (const n of names) {
    const c = column.get(n) ?? 0;
    const list = perColumn.get(c);
    if (list) list.push(n);
    else perColumn.set(c, [n]);
  }
  const pos = new Map<string, { x: number; y: number }>();
  for (const [c, list] of perColumn) list.forEach((n, i) => pos.set(n, { x: PAD + c * COL_W, y: PAD + i * ROW_H }));
  const width = PAD * 2 + Math.max(0, ...[...perColumn.keys()]) * COL_W + NODE_W;
  const height = PAD * 2 + (Math.max(1, ...[...perColumn.values()].map((l) => l.length)) - 1) * ROW_H + NODE_H + 14;

  const marker = (cls: string) =>
    `<marker id="arrow-${cls}" class="leg-${cls}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z"/></marker>`;
  yield `<svg id="fleet" role="img" aria-label="fleet: hosts and connection legs coloured by negotiated share" ` +
    `width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">` +
    `<defs>${marker('good')}${marker('partial')}${marker('bad')}</defs>`;
  for (const l of legs) {
    const a = pos.get(l.from);
    const b = pos.get(l.to);
    if (!a || !b) continue;
    const x1 = a.x + NODE_W;
    const y1 = a.y + NODE_H / 2;
    const x2 = b.x;
    const y2 = b.y + NODE_H / 2;
    const cls = shareClass(l);
    const label = `:${l.port} ${l.negotiated}/${l.connections}`;
    yield (
      `<g class="leg leg-${cls}" data-from="${e(l.from)}" data-to="${e(l.to)}" data-port="${l.port}" data-share="${l.connections > 0 ? (l.negotiated / l.connections).toFixed(2) : ''}">` +
        `<title>${e(`${l.from} → ${l.to}:${l.port}: ${l.negotiated} of ${l.connections} connections negotiated window scaling (seen by ${l.observedBy})`)}</title>` +
        `<line x1="${x1}" y1="${y1}" x2="${x2}" y2="${y2}" marker-end="url(#arrow-${cls})"/>` +
        `<text x="${(x1 + x2) / 2}" y="${(y1 + y2) / 2 - 6}" text-anchor="middle">${e(label)}</text></g>`
    );
  }
  for (const n of names) {
    const p = pos.get(n) as { x: number; y: number };
    const h = hosts.get(n);
    const status = h ? h.status : 'outside';
    const sub = h ? h.roles.join(', ') : 'outside the inventory';
    yield (
      `<g class="node node-${status}" data-host="${e(n)}"><title>${e(`${n}: ${h ? h.status : 'not in the inventory'}`)}</title>` +
        `<rect x="${p.x}" y="${p.y}" width="${NODE_W}" height="${NODE_H}" rx="6"/>` +
        `<text x="${p.x + NODE_W / 2}" y="${p.y + 15}" text-anchor="middle" class="name">${e(n)}</text>` +
        `<text x="${p.x + NODE_W / 2}" y="${p.y + 29}" text-anchor="middle" class="sub">${e(sub)}</text></g>`
    );
  }
  yield '</svg>';
}

/** Column of each node: 0 when nothing connects to it, else one more than the furthest node connecting to it. */
function columns(names: readonly string[], legs: readonly Leg[]): Map<string, number> {
  const col = new Map<string, number>(names.map((n) => [n, 0]));
  // Longest-path relaxation, bounded by the node count so a cycle cannot loop forever.
  for (let round = 0; round < names.length; round++) {
    let changed = false;
    for (const l of legs) {
      if (l.from === l.to) continue;
      const want = (col.get(l.from) ?? 0) + 1;
      if ((col.get(l.to) ?? 0) < want && want < names.length) {
        col.set(l.to, want);
        changed = true;
      }
    }
    if (!changed) break;
  }
  return col;
}
