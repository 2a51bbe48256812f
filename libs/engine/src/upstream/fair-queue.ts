/**
 * Waiters queued per flow (for the pool: a user on one pool key), the flows
 * taking turns: round-robin among flows, first come first served within
 * one. A flow that was just served goes to the back of the turn order, so
 * one flow's burst cannot make another wait behind all of it (FAIR-01),
 * while a flow whose first waiter does not fit (its own limits are full) is
 * skipped without losing its place.
 */
export class FairQueue<Waiter> {
  /** A Map keeps insertion order: that is the turn order. */
  private readonly flows = new Map<string, Waiter[]>();
  private count = 0;

  /** Waiters in every flow. */
  get size(): number {
    return this.count;
  }

  has(flow: string): boolean {
    return this.flows.has(flow);
  }

  enqueue(flow: string, waiter: Waiter): void {
    const queue = this.flows.get(flow);
    if (queue) queue.push(waiter);
    else this.flows.set(flow, [waiter]);
    this.count++;
  }

  /** Takes a waiter out (it gave up); false when it was not queued. */
  remove(flow: string, waiter: Waiter): boolean {
    const queue = this.flows.get(flow);
    const at = queue?.indexOf(waiter) ?? -1;
    if (at === -1) return false;
    queue!.splice(at, 1);
    if (queue!.length === 0) this.flows.delete(flow);
    this.count--;
    return true;
  }

  /**
   * Serves waiters while one fits: the first flow in turn order whose first
   * waiter `fits` gives it to `serve` and moves to the back. `serve` must
   * change what `fits` sees (take the slot), or this would not end.
   */
  dispatch(fits: (waiter: Waiter) => boolean, serve: (waiter: Waiter) => void): void {
    for (let served = true; served && this.count > 0;) {
      served = false;
      for (const [flow, queue] of this.flows) {
        const waiter = queue[0]!;
        if (!fits(waiter)) continue;
        queue.shift();
        this.count--;
        this.flows.delete(flow);
        if (queue.length > 0) this.flows.set(flow, queue);
        serve(waiter);
        served = true;
        break;
      }
    }
  }
}
