export * from './cluster';
export * from './guardrails';
export * from './log';
export * from './net/cancel-request';
export * from './net/framed-socket';
export * from './provisioning';
export * from './upstream';
export * from './query';
