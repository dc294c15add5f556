/**
 * A fake clock with exactly the semantics of `@std/testing/time`'s
 * `FakeTime` that matter to a scheduler (JSR is not reachable here, so the
 * real one cannot be imported in CI):
 *
 * - `tickAsync(ms)` lets pending promise callbacks run (one real macrotask),
 *   then advances time in ONE synchronous pass that fires every due timer in
 *   due order, with `Date.now()` equal to that timer's due time and no promise
 *   callback in between (timers armed during the pass fire in it too when
 *   due), then lets promise callbacks run once more;
 * - `now` never goes backwards (`RangeError`);
 * - every `tickAsync` re-installs the faked globals, removing anything placed
 *   over them (as FakeTime does);
 * - `runAllAsync()` stops as soon as no timer is pending.
 *
 * It also records every delay armed, for "no timer over an hour" checks.
 * `jump(ms)` moves the wall clock without firing timers, which FakeTime
 * cannot do; tests use it only to model a laptop sleep.
 */

const realSetTimeout = globalThis.setTimeout;
const RealDate = Date;
const realGlobals = {
  Date: globalThis.Date,
  setTimeout: globalThis.setTimeout,
  clearTimeout: globalThis.clearTimeout,
  setInterval: globalThis.setInterval,
  clearInterval: globalThis.clearInterval,
};

interface FakeTimer {
  readonly id: number;
  due: number;
  readonly order: number;
  readonly callback: (...args: unknown[]) => void;
  readonly args: unknown[];
  readonly repeatMs: number | undefined;
}

/** One real macrotask: every pending promise callback runs before it. */
function drain(): Promise<void> {
  return new Promise((resolve) => realSetTimeout(resolve, 0));
}

/** A FakeTime-like clock; install with `new StdLikeFakeTime(start)`. */
export class StdLikeFakeTime {
  #now: number;
  #nextId = 1;
  #order = 0;
  readonly #timers = new Map<number, FakeTimer>();
  #installed = false;
  /** Every delay passed to setTimeout/setInterval while installed. */
  readonly armedDelays: number[] = [];

  constructor(start: number) {
    this.#now = start;
    this.#install();
  }

  /** The fake wall clock. Setting it fires due timers synchronously. */
  get now(): number {
    return this.#now;
  }

  set now(value: number) {
    if (value < this.#now) {
      throw new RangeError(`time must be >= ${this.#now}: received ${value}`);
    }
    for (;;) {
      const next = this.#nextDue();
      if (next === undefined || next.due > value) break;
      this.#now = next.due;
      if (next.repeatMs === undefined) this.#timers.delete(next.id);
      else next.due += next.repeatMs;
      next.callback(...next.args);
    }
    this.#now = value;
  }

  /** Pending timers. */
  countTimers(): number {
    return this.#timers.size;
  }

  /** Advances synchronously. */
  tick(ms = 0): void {
    this.now = this.#now + ms;
  }

  /** Drains, advances in one synchronous pass, drains. */
  async tickAsync(ms = 0): Promise<void> {
    this.#install();
    await drain();
    this.now = this.#now + ms;
    await drain();
  }

  /** Drains, then fires the next due timer(s), if any. */
  async nextAsync(): Promise<boolean> {
    this.#install();
    await drain();
    const next = this.#nextDue();
    if (next === undefined) return false;
    this.now = next.due;
    return true;
  }

  /** Steps timer by timer until no timer is pending. */
  async runAllAsync(): Promise<void> {
    while (this.#timers.size > 0) await this.nextAsync();
  }

  /** Moves the wall clock forward without firing any timer. */
  jump(ms: number): void {
    this.#now += ms;
    for (const timer of this.#timers.values()) timer.due += ms;
  }

  /** Puts the real globals back. */
  restore(): void {
    if (!this.#installed) throw new Error("already restored");
    this.#installed = false;
    Object.assign(globalThis, realGlobals);
  }

  [Symbol.dispose](): void {
    this.restore();
  }

  #nextDue(): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const timer of this.#timers.values()) {
      if (
        best === undefined || timer.due < best.due ||
        (timer.due === best.due && timer.order < best.order)
      ) best = timer;
    }
    return best;
  }

  #arm(
    callback: unknown,
    delay: unknown,
    args: unknown[],
    repeat: boolean,
  ): number {
    if (typeof callback !== "function") throw new TypeError("not a function");
    const ms = Math.max(repeat ? 1 : 0, Math.floor(Number(delay) || 0));
    this.armedDelays.push(ms);
    const id = this.#nextId++;
    this.#timers.set(id, {
      id,
      due: this.#now + ms,
      order: this.#order++,
      callback: callback as (...args: unknown[]) => void,
      args,
      repeatMs: repeat ? ms : undefined,
    });
    return id;
  }

  #install(): void {
    // deno-lint-ignore no-this-alias
    const clock = this;
    const FakeDate = new Proxy(RealDate, {
      construct(target, args) {
        return args.length === 0
          ? new target(clock.#now)
          : Reflect.construct(target, args);
      },
      apply() {
        return new RealDate(clock.#now).toString();
      },
      get(target, property, receiver) {
        if (property === "now") return () => clock.#now;
        return Reflect.get(target, property, receiver);
      },
    });
    const clear = (id: unknown) => {
      if (typeof id === "number") this.#timers.delete(id);
    };
    Object.assign(globalThis, {
      Date: FakeDate,
      setTimeout: (cb: unknown, delay?: unknown, ...args: unknown[]) =>
        this.#arm(cb, delay, args, false),
      clearTimeout: clear,
      setInterval: (cb: unknown, delay?: unknown, ...args: unknown[]) =>
        this.#arm(cb, delay, args, true),
      clearInterval: clear,
    });
    this.#installed = true;
  }
}
