/**
 * Pulumi's property encoding on the provider wire (google.protobuf.Struct): a secret is an object carrying the
 * special signature key, an unknown (a value not known during preview) is a fixed string. The engine sends both once
 * Configure answered `acceptSecrets` (sdk/go/common/resource/plugin/rpc.go MarshalPropertyValue). Values are copied,
 * never mutated.
 */
export const SIG_KEY = '4dabf18193072939515e22adb298388d';
export const SECRET_SIG = '1b47061264138c4ac30d75fd1eb44270';
export const UNKNOWN = '04da6b54-80e4-46f7-96ec-b56ff0331ba9';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type Props = Record<string, Json>;

export function isSecret(v: Json | undefined): v is { [SIG_KEY]: string; value: Json } {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && v[SIG_KEY] === SECRET_SIG;
}

export function secret(value: Json): Json {
  return isSecret(value) ? value : { [SIG_KEY]: SECRET_SIG, value };
}

/** The value with every secret wrapper removed (at any depth). */
export function reveal(v: Json): Json {
  if (isSecret(v)) return reveal(v.value ?? null);
  if (Array.isArray(v)) return v.map(reveal);
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, reveal(x)]));
  return v;
}

export function revealProps(p: Props): Props {
  return reveal(p) as Props;
}

export function containsUnknown(v: Json | undefined): boolean {
  if (v === UNKNOWN) return true;
  if (Array.isArray(v)) return v.some(containsUnknown);
  if (typeof v === 'object' && v !== null) return Object.values(v).some(containsUnknown);
  return false;
}
