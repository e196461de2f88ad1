/** `kdrift probe` is the on-host agent's own command (probe/command.ts): the CLI only lists it. */
export { probeCommand as command } from '../../probe/index.js';
