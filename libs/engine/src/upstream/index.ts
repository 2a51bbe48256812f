export * from './pool';
export * from './simple-query';
export * from './upstream-connect';
export * from './upstream-connection';
export * from './upstream-failure';
export * from './session-check';
export * from './tenant-connection';
export * from './tenant-target';
