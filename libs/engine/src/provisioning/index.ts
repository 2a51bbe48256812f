export * from './admin-connection';
export * from './provisioner';
export * from './sql';
export * from './backends';
