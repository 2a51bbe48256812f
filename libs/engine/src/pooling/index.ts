export * from './prepared-statements';
export * from './session-settings';
export * from './transaction-mode-rules';
