export * from './array-literal';
export * from './parameters';
export * from './query-error';
export * from './query-executor';
export * from './result-messages';
export * from './statement-runner';
export * from './type-oids';
export * from './value-decoders';
