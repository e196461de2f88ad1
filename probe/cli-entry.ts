/**
 * Runs the kdrift CLI from the sources (`node --import tsx probe/cli-entry.ts probe ...`): what the e2e tests and
 * benchmarks start inside network namespaces, so they test the code as it is, not a stale dist/.
 */
import { main } from '../cli/main.js';

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
