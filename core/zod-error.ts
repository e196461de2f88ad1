import type { ZodError } from 'zod';

/** One line per issue: `roles.load-balancer.sysctls.net/ipv4/../x: sysctl key contains ".."`. */
export function formatZodError(err: ZodError): string {
  return err.issues
    .map((i) => {
      const path = i.path.length ? i.path.map(String).join('.') : '(top level)';
      return `${path}: ${i.message}`;
    })
    .join('\n  ');
}
