import path from 'node:path';

/** The built `postern` command line (package.json `bin`). */
export const CLI = path.resolve(__dirname, '..', '..', 'apps', 'cli', 'src', 'main.js');
