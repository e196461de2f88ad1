#!/usr/bin/env node
// Runs the compiled CLI; `npm run build` (or scripts/setup.sh) produces dist/.
import { main } from '../dist/cli/main.js';
main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
