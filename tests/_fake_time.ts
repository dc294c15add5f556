/**
 * Fake time for tests: `@sinonjs/fake-timers` installed on the globals the
 * library reads at call time. Microtasks stay real (the library's default
 * would break promises).
 */
// @ts-types="npm:@types/sinonjs__fake-timers@^15.0.0"
import FakeTimers from "@sinonjs/fake-timers";

export type FakeClock = FakeTimers.InstalledClock;

/**
 * Installs a fake clock at `now` (epoch ms or Date); uninstall when done.
 * With `monotonic`, `performance.now()` is faked too and moves with the
 * clock, as the monotonic clock does with the wall clock under real time
 * (the library's long sleeps tell a simulated clock by the two parting).
 */
export function installFakeClock(
  now: number | Date = 0,
  { monotonic = false }: { monotonic?: boolean } = {},
): FakeClock {
  return FakeTimers.install({
    now,
    toFake: [
      "setTimeout",
      "clearTimeout",
      "setInterval",
      "clearInterval",
      "Date",
      ...(monotonic ? ["performance" as const] : []),
    ],
  });
}

/**
 * Runs `body` with a fake clock, always uninstalling it afterwards.
 */
export async function withFakeClock<T>(
  now: number | Date,
  body: (clock: FakeClock) => Promise<T> | T,
  options?: { monotonic?: boolean },
): Promise<T> {
  const clock = installFakeClock(now, options);
  try {
    return await body(clock);
  } finally {
    clock.uninstall();
  }
}
