export * from './pool';
export * from './simple-query';
export * from './upstream-connect';
export * from './session-check';
export * from './tenant-target';
