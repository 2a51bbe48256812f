/** The caps of UnauthenticatedConnections (POSTERN_MAX_UNAUTHENTICATED*). */
export interface UnauthenticatedLimits {
  readonly total: number;
  readonly perAddress: number;
}

/**
 * Counts connections from accept until their login has finished (or failed), per source
 * address and in total (HARD-01). Each one costs buffers, a TLS session and SCRAM work
 * before anyone is known, so their number is what bounds the memory a stranger can take.
 */
export class UnauthenticatedConnections {
  private total = 0;
  private readonly perAddress = new Map<string, number>();

  constructor(private readonly limits: UnauthenticatedLimits) {}

  /** A slot for one connection from `address` and its release (idempotent), or null when full. */
  admit(address: string): (() => void) | null {
    const fromAddress = this.perAddress.get(address) ?? 0;
    if (this.total >= this.limits.total || fromAddress >= this.limits.perAddress) return null;
    this.total++;
    this.perAddress.set(address, fromAddress + 1);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.total--;
      const left = this.perAddress.get(address)! - 1;
      if (left === 0) this.perAddress.delete(address);
      else this.perAddress.set(address, left);
    };
  }

  get count(): number {
    return this.total;
  }
}
