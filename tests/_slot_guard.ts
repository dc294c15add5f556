/**
 * An in-process execution guard with the guard contract's guarantee (at most one grant
 * per slot, a released slot stays done) and a log of every call, for
 * fake-time tests of run controls. Several schedulers may share one.
 */
import type {
  ExecutionGuard,
  ExecutionGuardAcquire,
  ExecutionGuardRenewal,
  ExecutionLease,
  ExecutionSlot,
} from "../mod.ts";

/** One call the guard received. */
export interface SlotCall {
  readonly op: "acquire" | "renew" | "release";
  readonly at: number;
  /** `<jobId>@<scheduledAt ISO>`. */
  readonly slot: string;
  /** For acquire: whether it was granted. */
  readonly granted?: boolean;
}

export class SlotGuard implements ExecutionGuard {
  readonly calls: SlotCall[] = [];
  readonly #taken = new Set<string>();
  readonly #renewEveryMs: number | undefined;
  #fencing = 0n;

  constructor(options: { renewIntervalMs?: number } = {}) {
    this.#renewEveryMs = options.renewIntervalMs;
  }

  acquire(slot: ExecutionSlot): Promise<ExecutionGuardAcquire> {
    const key = `${slot.jobId}@${slot.scheduledAt.toISOString()}`;
    const granted = !this.#taken.has(key);
    this.calls.push({ op: "acquire", at: Date.now(), slot: key, granted });
    if (!granted) return Promise.resolve({ kind: "contended" });
    this.#taken.add(key);
    const fencingToken = ++this.#fencing;
    return Promise.resolve({
      kind: "acquired",
      lease: {
        jobId: slot.jobId,
        scheduledAt: new Date(slot.scheduledAt),
        token: `t${fencingToken}`,
        leaseKey: key,
        fencingToken,
      },
    });
  }

  renew(lease: ExecutionLease): Promise<ExecutionGuardRenewal> {
    this.calls.push({ op: "renew", at: Date.now(), slot: lease.leaseKey });
    return Promise.resolve("renewed");
  }

  release(lease: ExecutionLease): Promise<void> {
    this.calls.push({ op: "release", at: Date.now(), slot: lease.leaseKey });
    return Promise.resolve();
  }

  renewIntervalMs(): number | undefined {
    return this.#renewEveryMs;
  }

  /** The calls of one kind. */
  ofOp(op: SlotCall["op"]): SlotCall[] {
    return this.calls.filter((call) => call.op === op);
  }
}
