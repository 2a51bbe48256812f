export * from './cluster';
export * from './log';
export * from './net/framed-socket';
export * from './provisioning';
export * from './upstream';
export * from './query';
