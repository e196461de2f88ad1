/**
 * Entry of the provider plugin `pulumi-resource-kdrift` (bin/). The engine starts it with its own gRPC address as
 * the only argument (kdrift's provider makes no calls back to the engine) and reads the port it prints.
 * Diagnostics go to stderr: stdout carries only the port.
 */
import { serve } from './server.js';

serve().catch((err: unknown) => {
  process.stderr.write(`pulumi-resource-kdrift: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
