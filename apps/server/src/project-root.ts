import path from 'node:path';

/** The checkout root (this file compiles to dist/apps/server/src/). */
export const PROJECT_ROOT = path.resolve(__dirname, '..', '..', '..', '..');
