export * from './cluster';
export * from './embedded-cluster';
export * from './external-cluster';
export * from './free-port';
export * from './secret-file';
export * from './data-dir-lock';
