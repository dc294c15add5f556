/**
 * Event details carry fencing tokens as `bigint`s, which `JSON.stringify`
 * refuses. A detail that holds one gets a non-enumerable `toJSON` writing
 * each `bigint` as its decimal text (see docs/jobs.md, "Events and
 * observers"), so logging a detail as JSON never throws; the fields
 * themselves stay `bigint`s.
 *
 * @module
 */

function tokensAsText(this: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(this)) {
    const value = this[key];
    out[key] = typeof value === "bigint" ? value.toString() : value;
  }
  return out;
}

/** Gives `detail` a `toJSON` when one of its fields is a `bigint`. */
export function jsonSafe<T extends object>(detail: T): T {
  for (const value of Object.values(detail)) {
    if (typeof value === "bigint") {
      Object.defineProperty(detail, "toJSON", {
        value: tokensAsText,
        enumerable: false,
      });
      break;
    }
  }
  return detail;
}
