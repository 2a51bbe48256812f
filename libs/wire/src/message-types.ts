/** Protocol 3.0 is the only version the gateway speaks (see PROTO-02 for 3.2 and grease). */
export const PROTOCOL_MAJOR = 3;
export const PROTOCOL_LATEST_MINOR = 0;

/** PostgreSQL's MAX_STARTUP_PACKET_LENGTH (src/include/libpq/pqcomm.h). */
export const MAX_STARTUP_PACKET_LENGTH = 10000;

/**
 * Largest length field of a typed message before authentication has completed (HARD-01),
 * checked before the body is buffered. The longest legitimate one is a PasswordMessage with a
 * password of at most 1024 characters (4 KiB in UTF-8) or an API token; SASL messages carry
 * a nonce of at most 256 characters and a proof. PostgreSQL caps the same messages at 64 KiB
 * (PG_MAX_AUTH_TOKEN_LENGTH, sized for GSSAPI tokens, which the gateway does not speak).
 */
export const MAX_AUTH_MESSAGE_LENGTH = 8192;

/** Cancel keys are 4 bytes in protocol 3.0 and up to 256 bytes since 3.2 (PostgreSQL 18). */
export const MIN_CANCEL_KEY_LENGTH = 4;
export const MAX_CANCEL_KEY_LENGTH = 256;

/** Request codes sent in place of a protocol version in an untyped startup frame. */
export const StartupCode = {
  CancelRequest: 80877102, // 1234.5678
  SslRequest: 80877103, // 1234.5679
  GssEncRequest: 80877104, // 1234.5680
} as const;

/** Type bytes of frontend (client to server) messages, protocol 3.0. */
export const FrontendType = {
  Bind: 0x42, // B
  Close: 0x43, // C
  CopyData: 0x64, // d
  CopyDone: 0x63, // c
  CopyFail: 0x66, // f
  Describe: 0x44, // D
  Execute: 0x45, // E
  Flush: 0x48, // H
  FunctionCall: 0x46, // F
  Parse: 0x50, // P
  PasswordOrSasl: 0x70, // p: PasswordMessage, SASLInitialResponse, SASLResponse, GSSResponse
  Query: 0x51, // Q
  Sync: 0x53, // S
  Terminate: 0x58, // X
} as const;

/** Type bytes of backend (server to client) messages, protocol 3.0. */
export const BackendType = {
  Authentication: 0x52, // R
  BackendKeyData: 0x4b, // K
  BindComplete: 0x32, // 2
  CloseComplete: 0x33, // 3
  CommandComplete: 0x43, // C
  CopyData: 0x64, // d
  CopyDone: 0x63, // c
  CopyInResponse: 0x47, // G
  CopyOutResponse: 0x48, // H
  CopyBothResponse: 0x57, // W
  DataRow: 0x44, // D
  EmptyQueryResponse: 0x49, // I
  ErrorResponse: 0x45, // E
  FunctionCallResponse: 0x56, // V
  NegotiateProtocolVersion: 0x76, // v
  NoData: 0x6e, // n
  NoticeResponse: 0x4e, // N
  NotificationResponse: 0x41, // A
  ParameterDescription: 0x74, // t
  ParameterStatus: 0x53, // S
  ParseComplete: 0x31, // 1
  PortalSuspended: 0x73, // s
  ReadyForQuery: 0x5a, // Z
  RowDescription: 0x54, // T
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
