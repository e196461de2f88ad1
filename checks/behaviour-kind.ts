/**
 * The skeleton every behaviour judge shares: per declaration, `unknown` when the agent did not load the observer the
 * kind needs, otherwise the kind's own verdict on the observation, wrapped into a Finding with the common fields and
 * evidence (observation window, the agent's own test connections). Collection is shared too: every behaviour kind
 * of a host joins one agent run (checks/agent-run.ts) and adds its observer to that run's `--observe`.
 */
import type { z } from 'zod';
import type { Finding, FindingStatus } from '../core/finding.js';
import { collectShared } from './agent-run.js';
import { connectNote, windowSeconds } from './evidence.js';
import { observerNamed, type ObserverName, type ProbeObservation } from '../probe/index.js';
import type { BehaviourKind, BehaviourSchema, CheckContext } from './kind.js';

/** A kind's judgement of one declaration. */
export interface BehaviourVerdict {
  status: FindingStatus;
  actual: string | null;
  /** Why, for drift and unknown (omit for ok). */
  reason?: string;
  /** What the verdict rests on (counts, samples); window and test connections are added. */
  evidence: Record<string, unknown>;
}

export interface BehaviourKindDefinition<S extends BehaviourSchema> {
  specSchema: S;
  /** The agent observer whose part of the observation `judge` reads. */
  observes: ObserverName;
  /** The finding's `expected` for a declaration, in words (`share >= 0.99`). */
  expected(spec: z.output<S>): string;
  /** Pure: the observation (which did observe `observes`) against one declaration (ctx: e.g. ownTraffic). */
  judge(obs: ProbeObservation, spec: z.output<S>, ctx: CheckContext): BehaviourVerdict;
}

export function behaviourKind<S extends BehaviourSchema>(def: BehaviourKindDefinition<S>): BehaviourKind<S> {
  const kind = (def.specSchema.shape.check as z.ZodLiteral<z.output<S>['check']>).value;
  const describes = observerNamed(def.observes)?.describes ?? def.observes;
  return {
    kind,
    layer: 'behaviour',
    specSchema: def.specSchema,
    observes: def.observes,
    collect: (session, specs, ctx) => collectShared(session, specs.values(), def.observes, ctx),
    judge(obs, specs, ctx) {
      return [...specs].map(([key, spec]): Finding => {
        const base = { host: ctx.host.name, check: kind, key, layer: 'behaviour' as const, expected: def.expected(spec), severity: spec.severity };
        if (!obs.observed.includes(def.observes)) {
          return { ...base, status: 'unknown', actual: null, reason: `the agent did not observe ${describes} (it ran without --observe ${def.observes})` };
        }
        const v = def.judge(obs, spec, ctx);
        return {
          ...base,
          status: v.status,
          actual: v.actual,
          ...(v.reason !== undefined ? { reason: v.reason } : {}),
          evidence: { ...v.evidence, window: windowSeconds(obs), ...connectNote(obs) },
        };
      });
    },
  };
}
