import net from 'node:net';

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

  /** A slot for one connection from `source` and its release (idempotent), or null when full. */
  admit(source: string): (() => void) | null {
    const address = limitedAs(source);
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

/**
 * What the per-address limit counts by: an IPv4 address as it is, an IPv6 address by its
 * /64, the smallest block one host is usually given (so it cannot take a slot per address
 * of its own subnet). IPv4-mapped IPv6 addresses count as their IPv4 address.
 */
export function limitedAs(address: string): string {
  const bare = address.split('%')[0]!;
  if (!net.isIPv6(bare)) return bare;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  if (mapped) return mapped[1]!;
  const [head, tail] = bare.split('::') as [string, string | undefined];
  const groups = (part: string | undefined) =>
    part ? part.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g])) : [];
  const leading = groups(head);
  const trailing = groups(tail);
  const all =
    tail === undefined
      ? leading
      : [...leading, ...Array<string>(8 - leading.length - trailing.length).fill('0'), ...trailing];
  return `${all
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}
