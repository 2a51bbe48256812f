export { safeEqual } from './constant-time';
export { saslprep, saslprepBytes } from './saslprep';
export {
  DEFAULT_SCRAM_ITERATIONS,
  SCRAM_KEY_LENGTH,
  SCRAM_SALT_LENGTH,
  deriveScramVerifier,
  formatPostgresScramSecret,
  mockScramSalt,
  newScramSalt,
  parsePostgresScramSecret,
  type ScramVerifier,
} from './scram-keys';
export { ScramError, type ScramSqlState } from './scram-error';
export { tlsServerEndPointHash, type ChannelBinding } from './channel-binding';
export {
  SCRAM_SHA_256,
  SCRAM_SHA_256_PLUS,
  scramMechanisms,
  startScramServer,
  type ScramAwaitingClientFinal,
  type ScramAwaitingClientFirst,
  type ScramCandidate,
  type ScramServerOptions,
  type ScramServerOutcome,
} from './scram-server';
export {
  DEFAULT_MAX_CLIENT_ITERATIONS,
  SaltedPasswordCache,
  startScramClient,
  type ScramClientFinal,
  type ScramClientFirst,
  type ScramClientOptions,
} from './scram-client';
export { matchCleartextPassword } from './cleartext';
export {
  LoginGate,
  LoginThrottle,
  type AttemptVerdict,
  type ThrottlePolicy,
  type ThrottleRule,
  type ThrottleVerdict,
} from './login-throttle';
