export * from './pool';
export * from './simple-query';
export * from './upstream-connect';
