export * from './admin-connection';
export * from './provisioner';
export * from './sql';
