/**
 * The fake clocks users test with, behind one interface, so that each
 * fake-time scenario runs under all of them: `@sinonjs/fake-timers` (promise
 * callbacks run between timers), a faithful model of `@std/testing/time`'s
 * `FakeTime` (every due timer of an advance fires in one synchronous pass),
 * and the real `FakeTime` from JSR where JSR can be reached (elsewhere its
 * scenarios are registered as ignored, never as passed).
 */
import { installFakeClock } from "./_fake_time.ts";
import { StdLikeFakeTime } from "./_std_like_fake_time.ts";

/** What a fake-time scenario needs from a clock. */
export interface TestClock {
  readonly name: string;
  /** Advances `ms` in one call, the way users do. */
  tickAsync(ms: number): Promise<void>;
  /** Runs timers until none is pending. */
  runAllAsync(): Promise<void>;
  /**
   * Moves the wall clock forward without firing timers (a laptop sleep);
   * absent where the clock cannot (the real FakeTime).
   */
  jump?(ms: number): void;
  /** Pending timers; absent where the clock does not tell. */
  countTimers?(): number;
  /** The longest delay armed since install; absent where unknown. */
  maxArmedDelay?(): number;
}

type Installer = (start: number) => TestClock & { uninstall(): void };

function sinonClock(start: number): TestClock & { uninstall(): void } {
  const clock = installFakeClock(start);
  const faked = globalThis.setTimeout;
  const delays: number[] = [];
  globalThis.setTimeout = ((handler: () => void, delay?: number) => {
    delays.push(delay ?? 0);
    return faked(handler, delay);
  }) as typeof setTimeout;
  return {
    name: "sinon",
    tickAsync: async (ms) => void await clock.tickAsync(ms),
    runAllAsync: async () => void await clock.runAllAsync(),
    jump: (ms) => clock.setSystemTime(clock.now + ms),
    countTimers: () => clock.countTimers(),
    maxArmedDelay: () => Math.max(0, ...delays),
    uninstall() {
      globalThis.setTimeout = faked;
      clock.uninstall();
    },
  };
}

function stdLikeClock(start: number): TestClock & { uninstall(): void } {
  const time = new StdLikeFakeTime(start);
  return {
    name: "FakeTime",
    tickAsync: (ms) => time.tickAsync(ms),
    runAllAsync: () => time.runAllAsync(),
    jump: (ms) => time.jump(ms),
    countTimers: () => time.countTimers(),
    maxArmedDelay: () => Math.max(0, ...time.armedDelays),
    uninstall: () => time.restore(),
  };
}

/** The subset of `@std/testing/time`'s FakeTime these tests use. */
interface StdFakeTime {
  tickAsync(ms: number): Promise<void>;
  runAllAsync(): Promise<void>;
  restore(): void;
}

/** The real FakeTime, when JSR can be reached (not from these machines). */
async function loadStdFakeTime(): Promise<Installer | undefined> {
  // Not a literal, so that type checking and `deno check` stay offline.
  const specifier = ["jsr:@std/testing@^1.0.0", "time"].join("/");
  let FakeTime: new (start: number) => StdFakeTime;
  try {
    ({ FakeTime } = await import(specifier));
  } catch {
    return undefined;
  }
  return (start) => {
    const time = new FakeTime(start);
    return {
      name: "std FakeTime",
      tickAsync: (ms) => time.tickAsync(ms),
      runAllAsync: () => time.runAllAsync(),
      uninstall: () => time.restore(),
    };
  };
}

/**
 * Every clock, by name; `undefined` where the clock is not available (its
 * scenarios are then registered as ignored).
 */
export const TEST_CLOCKS: readonly {
  name: string;
  install: Installer | undefined;
  /** Whether the clock can move the wall clock without firing timers. */
  jumps: boolean;
}[] = [
  { name: "sinon", install: sinonClock, jumps: true },
  { name: "FakeTime model", install: stdLikeClock, jumps: true },
  {
    name: "std FakeTime (JSR)",
    install: await loadStdFakeTime(),
    jumps: false,
  },
];

/** Runs `body` with the clock installed at `start`; always uninstalls. */
export async function withTestClock<T>(
  install: Installer,
  start: number,
  body: (clock: TestClock) => Promise<T>,
): Promise<T> {
  const clock = install(start);
  try {
    return await body(clock);
  } finally {
    clock.uninstall();
  }
}

const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;

/**
 * Awaits `promise`, failing after `ms` of real time instead of hanging (the
 * scenarios must settle without further fake time).
 */
export async function within<T>(
  promise: Promise<T>,
  what: string,
  ms = 5_000,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = realSetTimeout(
      () => reject(new Error(`hang: ${what} did not settle`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    realClearTimeout(timer);
  }
}
