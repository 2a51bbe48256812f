export * from './upstream-connect';
