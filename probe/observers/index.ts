/**
 * The agent's observers, each registered once here. A behaviour check kind names the one it needs (`observes`), the
 * agent loads only those (`--observe`), and each observer's `part` is merged into the observation schema.
 */
import type { z } from 'zod';
import { wscaleObserver } from './wscale.js';
import { stallsObserver } from './stalls.js';
import { congestionObserver } from './congestion.js';

export const observers = [wscaleObserver, stallsObserver, congestionObserver] as const;

export type ObserverName = (typeof observers)[number]['name'];
export const OBSERVER_NAMES = observers.map((o) => o.name) as [ObserverName, ...ObserverName[]];
/** What a bare `kdrift probe` loads. */
export const DEFAULT_OBSERVERS: readonly ObserverName[] = observers.filter((o) => o.defaultOn).map((o) => o.name);

type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;
/** Every observer's own fields of the observation, as one zod shape. */
export const observationParts = Object.assign({}, ...observers.map((o) => o.part)) as UnionToIntersection<(typeof observers)[number]['part']> & z.ZodRawShape;

export function observerNamed(name: string): (typeof observers)[number] | undefined {
  return observers.find((o) => o.name === name);
}
