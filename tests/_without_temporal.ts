/**
 * Preloaded (`deno test --preload`) to run test files on the time-zone path
 * of runtimes without `Temporal` (Node 20–24): hides `Temporal` before
 * any module loads, and registers a test that the zone rules in use really
 * come from `Intl` probes. See tests/time_zone_without_temporal_test.ts.
 */
import assert from "node:assert/strict";

delete (globalThis as { Temporal?: unknown }).Temporal;

const { timeZoneRules } = await import("../src/schedule/_time_zone.ts");

Deno.test("without Temporal: the shared zone rules come from Intl probes", () => {
  assert.equal(
    typeof (globalThis as { Temporal?: unknown }).Temporal,
    "undefined",
  );
  for (
    const zone of ["America/New_York", "Europe/London", "Australia/Lord_Howe"]
  ) {
    assert.equal(timeZoneRules(zone).usesTemporal, false, zone);
  }
});
