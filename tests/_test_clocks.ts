/**
 * The fake clocks users test with, behind one interface, so that each
 * fake-time scenario runs under all of them: `@sinonjs/fake-timers` (promise
 * callbacks run between timers), the real `FakeTime` of `@std/testing/time`
 * (the release in deno.json: every due timer of an advance fires in one
 * synchronous pass) and `@std/testing@1.1.0-pr7310` (std's next FakeTime:
 * microtasks drained after every timer). A clock the registry in use does not
 * serve is listed with `install: undefined` and a reason; its scenarios are
 * then registered as ignored, with that reason printed, never as passed.
 */
import { FakeTime } from "@std/testing/time";
import { installFakeClock } from "./_fake_time.ts";

/** What a fake-time scenario needs from a clock. */
export interface TestClock {
  readonly name: string;
  /** Advances `ms` in one call, the way users do. */
  tickAsync(ms: number): Promise<void>;
  /** Advances to the next pending timer; false when there is none. */
  nextAsync(): Promise<boolean>;
  /** Runs timers until none is pending. */
  runAllAsync(): Promise<void>;
  /**
   * Whether any timer is pending. Under std's FakeTime this moves the clock
   * to that timer (FakeTime tells no other way), so ask it last.
   */
  hasPendingTimer(): boolean;
  /**
   * Moves the wall clock forward without firing timers (a laptop sleep);
   * absent where the clock cannot (std's FakeTime fires timers when set).
   */
  jump?(ms: number): void;
}

/** Installs a clock at `start`. */
export type Installer = (start: number) => TestClock & { uninstall(): void };

function sinonClock(start: number): TestClock & { uninstall(): void } {
  const clock = installFakeClock(start);
  return {
    name: "sinon",
    tickAsync: async (ms) => void await clock.tickAsync(ms),
    nextAsync: async () => {
      if (clock.countTimers() === 0) return false;
      await clock.nextAsync();
      return true;
    },
    runAllAsync: async () => void await clock.runAllAsync(),
    hasPendingTimer: () => clock.countTimers() > 0,
    jump: (ms) => clock.setSystemTime(clock.now + ms),
    uninstall: () => clock.uninstall(),
  };
}

function stdClock(
  name: string,
  Ctor: typeof FakeTime,
): Installer {
  return (start) => {
    const time = new Ctor(start);
    return {
      name,
      tickAsync: (ms) => time.tickAsync(ms),
      nextAsync: () => time.nextAsync(),
      runAllAsync: () => time.runAllAsync(),
      hasPendingTimer: () => time.next(),
      uninstall: () => time.restore(),
    };
  };
}

/** The exact prerelease of std's next FakeTime; only a local mirror has it. */
const NEXT_STD_TESTING = "1.1.0-pr7310";

async function loadNextStdFakeTime(): Promise<
  { install: Installer } | { reason: string }
> {
  // Not a literal: `deno check` and a contributor on real JSR (which has no
  // such version) must not need it.
  const specifier = `jsr:@std/testing@${NEXT_STD_TESTING}/time`;
  try {
    const module = await import(specifier);
    return {
      install: stdClock(`std FakeTime ${NEXT_STD_TESTING}`, module.FakeTime),
    };
  } catch (error) {
    return {
      reason: `${specifier} is not served by ${
        Deno.env.get("JSR_URL") ?? "jsr.io"
      } (${(error as Error).message.split("\n")[0]})`,
    };
  }
}

/** A clock the scenarios run under. */
export interface ClockEntry {
  name: string;
  /** Undefined when the registry in use does not serve it (see `reason`). */
  install: Installer | undefined;
  reason?: string;
}

const next = await loadNextStdFakeTime();
if ("reason" in next) {
  console.warn(
    `fake-time scenarios on std's next FakeTime skipped: ${next.reason}`,
  );
}

/** Every clock, by name. */
export const TEST_CLOCKS: readonly ClockEntry[] = [
  { name: "sinon", install: sinonClock },
  { name: "std FakeTime", install: stdClock("std FakeTime", FakeTime) },
  "install" in next
    ? { name: `std FakeTime ${NEXT_STD_TESTING}`, install: next.install }
    : {
      name: `std FakeTime ${NEXT_STD_TESTING}`,
      install: undefined,
      reason: next.reason,
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
