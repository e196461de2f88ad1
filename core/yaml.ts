/** The yaml package, loaded on first use (see lazy-require.ts). */
import { lazyRequire } from './lazy-require.js';

export const yaml = lazyRequire<typeof import('yaml')>('yaml');
