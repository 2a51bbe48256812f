import type { Guardrails } from '#engine';
import { FrontendType } from '#wire';

/** A session's guardrails, plus the frontend message length cap; 0 disables one. */
export interface RelayLimits extends Guardrails {
  /** Largest length field accepted for the large message types (Query, Parse, Bind, CopyData, ...). */
  readonly maxMessageLength: number;
}

/**
 * PostgreSQL's PQ_SMALL_MESSAGE_LIMIT applies to these frontend messages
 * (PROTO-04): Close, Describe, Execute, Flush, Sync, Terminate, CopyDone, CopyFail.
 */
const SMALL_FRONTEND_TYPES = new Set<number>([
  FrontendType.Close,
  FrontendType.Describe,
  FrontendType.Execute,
  FrontendType.Flush,
  FrontendType.Sync,
  FrontendType.Terminate,
  FrontendType.CopyDone,
  FrontendType.CopyFail,
]);
const SMALL_MESSAGE_LIMIT = 10_000;

export function frontendLengthLimit(limits: RelayLimits): (type: number) => number {
  return (type) => (SMALL_FRONTEND_TYPES.has(type) ? SMALL_MESSAGE_LIMIT : limits.maxMessageLength);
}

/** Messages up to this size are inspected whole; larger ones stream through. */
export const HOLD_UP_TO = 64 * 1024;
