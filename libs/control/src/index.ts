export * from './control-plane';
export * from './databases.repository';
export * from './entities.repository';
export * from './migrations';
export * from './names';
