/** Protocol 3.0 is the only version the gateway speaks (see PROTO-02 for 3.2 and grease). */
export const PROTOCOL_MAJOR = 3;
export const PROTOCOL_LATEST_MINOR = 0;

/** PostgreSQL's MAX_STARTUP_PACKET_LENGTH (src/include/libpq/pqcomm.h). */
export const MAX_STARTUP_PACKET_LENGTH = 10000;

/**
 * PostgreSQL's PG_MAX_AUTH_TOKEN_LENGTH (src/include/libpq/auth.h): the
 * largest body of a password or SASL message read before authentication, so
 * that an unauthenticated peer cannot make the server buffer more (FUZZ-01).
 */
export const MAX_AUTH_MESSAGE_LENGTH = 65535;

/** Cancel keys are 4 bytes in protocol 3.0 and up to 256 bytes since 3.2 (PostgreSQL 18). */
export const MIN_CANCEL_KEY_LENGTH = 4;
export const MAX_CANCEL_KEY_LENGTH = 256;

/** Request codes sent in place of a protocol version in an untyped startup frame. */
export const StartupCode = {
  CancelRequest: 80877102, // 1234.5678
  SslRequest: 80877103, // 1234.5679
  GssEncRequest: 80877104, // 1234.5680
} as const;

/** Type bytes of frontend (client to server) messages. */
export const FrontendType = {
  Query: 0x51, // Q
  Parse: 0x50, // P
  Bind: 0x42, // B
  Execute: 0x45, // E
  Sync: 0x53, // S
  Terminate: 0x58, // X
  PasswordOrSasl: 0x70, // p: PasswordMessage, SASLInitialResponse, SASLResponse
  CopyData: 0x64, // d
  CopyDone: 0x63, // c
  CopyFail: 0x66, // f
  Flush: 0x48, // H
  Describe: 0x44, // D
  Close: 0x43, // C
  FunctionCall: 0x46, // F
} as const;

/** Type bytes of backend (server to client) messages. */
export const BackendType = {
  Authentication: 0x52, // R
  ParameterStatus: 0x53, // S
  BackendKeyData: 0x4b, // K
  ReadyForQuery: 0x5a, // Z
  ErrorResponse: 0x45, // E
  NoticeResponse: 0x4e, // N
  DataRow: 0x44, // D
  CommandComplete: 0x43, // C
  RowDescription: 0x54, // T
  CopyInResponse: 0x47, // G
  CopyOutResponse: 0x48, // H
  CopyBothResponse: 0x57, // W
  NotificationResponse: 0x41, // A
  NegotiateProtocolVersion: 0x76, // v
} as const;

/** Authentication request codes carried in the first int32 of an 'R' message. */
export const AuthCode = {
  Ok: 0,
  CleartextPassword: 3,
  Md5Password: 5,
  Sasl: 10,
  SaslContinue: 11,
  SaslFinal: 12,
} as const;
