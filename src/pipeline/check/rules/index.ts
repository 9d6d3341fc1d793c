/** The checker's rules, one per file, in reporting order (the table is in registry.ts). */
export { rules } from './registry.js';
