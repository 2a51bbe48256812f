export * from './prepared-statements';
export * from './session-settings';
export * from './transaction-mode-rules';
export * from './pending-responses';
export * from './pooled-upstream';
export * from './lazy-session-upstream';
