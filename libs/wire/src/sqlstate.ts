/**
 * The SQLSTATE codes Postern may send. Every value is a real PostgreSQL code
 * (Appendix A of the PostgreSQL manual); add here rather than inventing one at a call site.
 */
export const SqlState = {
  SuccessfulCompletion: '00000',
  ConnectionException: '08000',
  ConnectionFailure: '08006',
  ProtocolViolation: '08P01',
  FeatureNotSupported: '0A000',
  CharacterNotInRepertoire: '22021',
  InvalidTransactionState: '25000',
  ReadOnlySqlTransaction: '25006',
  IdleInTransactionSessionTimeout: '25P03',
  InvalidAuthorizationSpecification: '28000',
  InvalidPassword: '28P01',
  InvalidCatalogName: '3D000',
  SerializationFailure: '40001',
  DeadlockDetected: '40P01',
  InsufficientPrivilege: '42501',
  SyntaxError: '42601',
  TooManyConnections: '53300',
  ProgramLimitExceeded: '54000',
  QueryCanceled: '57014',
  AdminShutdown: '57P01',
  CannotConnectNow: '57P03',
  IdleSessionTimeout: '57P05',
  InternalError: 'XX000',
} as const;

export type SqlStateCode = (typeof SqlState)[keyof typeof SqlState];
