export { SqlState, type SqlStateCode } from './sqlstate.js';
export { PgError, PgErrors, type PgErrorOptions, type PgSeverity } from './pg-error.js';
export {
  AuthCode,
  BackendType,
  FrontendType,
  MAX_AUTH_MESSAGE_LENGTH,
  MAX_CANCEL_KEY_LENGTH,
  MAX_STARTUP_PACKET_LENGTH,
  MIN_CANCEL_KEY_LENGTH,
  PROTOCOL_LATEST_MINOR,
  PROTOCOL_MAJOR,
  StartupCode,
} from './message-types.js';
export { FrameReader, type FrameReaderOptions, type TypedMessage } from './frame-reader.js';
export { parseStartupPacket, type StartupPacket } from './startup.js';
export {
  authenticationCleartextPassword,
  authenticationOk,
  authenticationSasl,
  authenticationSaslContinue,
  authenticationSaslFinal,
  backendKeyData,
  errorResponse,
  negotiateProtocolVersion,
  noticeResponse,
  parameterStatus,
  readyForQuery,
  sslResponse,
  type ErrorFields,
  type TransactionStatus,
} from './backend-messages.js';
export {
  parsePasswordMessage,
  parseSaslInitialResponse,
  parseSaslResponse,
  type SaslInitialResponse,
} from './frontend-messages.js';
export {
  parseAuthentication,
  parseBackendKeyData,
  parseErrorFields,
  parseParameterStatus,
  parseReadyForQuery,
  type AuthenticationRequest,
  type BackendKey,
} from './backend-parse.js';
export {
  MessageSplitter,
  type MessageInspector,
  type MessageSplitterOptions,
  type Verdict,
} from './message-splitter.js';
export {
  closeStatementMessage,
  parseDefinition,
  parseMessage,
  statementNameOf,
  withStatementName,
} from './statement-names.js';
