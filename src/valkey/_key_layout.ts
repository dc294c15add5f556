/**
 * Every Valkey key the library reads or writes, built in one place from a
 * prefix and a layout (see {@linkcode ValkeyKeyLayout} and
 * `docs/valkey.md`):
 *
 * | key                | `"rust"`                        | `"cluster"`                        |
 * | ------------------ | ------------------------------- | ---------------------------------- |
 * | state              | `<prefix><jobId>`               | `<prefix>{<jobId>}`                |
 * | lease              | `<prefix><jobId>:<scheduledAt>` | `<prefix>{<jobId>}:<scheduledAt>`  |
 * | fencing counter    | `<prefix><jobId>:fencing-token` | `<prefix>{<jobId>}:fencing-token`  |
 * | in-flight records  | `<prefix><jobId>:in-flight`     | `<prefix>{<jobId>}:in-flight`      |
 * | a key set aside    | `<prefix><jobId>:quarantine:<what>:<ms>` | `<prefix>{<jobId>}:quarantine:<what>:<ms>` |
 * | records set aside  | `<prefix><jobId>:quarantine:in-flight`   | `<prefix>{<jobId>}:quarantine:in-flight`   |
 * | layout marker      | `<prefix>`                      | `<prefix>`                         |
 *
 * `<scheduledAt>` is RFC 3339 UTC with nine fractional digits, as the Rust
 * crate writes it. With the `"cluster"` layout the job id is a hash tag, so
 * a job's state, leases, counter and records share one slot (and one
 * script may touch them all), while different jobs spread over the slots.
 * The marker key (the prefix itself: no job id is empty) says which layout
 * the keys under the prefix use, so that two layouts never share them.
 *
 * @module
 */

import { InvalidJobKind } from "../constants.ts";
import { describeValue, InvalidJobError } from "../errors.ts";
import { formatRfc3339 } from "../schedule/_rfc3339.ts";
import type { ValkeyKeyLayout } from "./connection.ts";

/** The default prefix of state keys (the Rust crate's). */
export const DEFAULT_STATE_PREFIX = "scheduler:valkey:job-state:";
/** Where the Rust crate's earlier versions kept states (read-only fallback). */
export const LEGACY_STATE_PREFIX = "scheduler:job-state:";
/** The default prefix of lease keys (the Rust crate's). */
export const DEFAULT_LEASE_PREFIX = "scheduler:valkey:execution-lease:";

// deno-lint-ignore no-control-regex
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

/** The keys under one prefix, in one layout. */
export class ValkeyKeys {
  /** The prefix every key starts with. */
  readonly prefix: string;
  /** How the job id sits in a key. */
  readonly layout: ValkeyKeyLayout;

  /**
   * @throws {InvalidJobError} kind `other` for an empty prefix, one with
   * control characters, or (layout `"cluster"`) one with `{` or `}`, which
   * would take the place of the job's hash tag.
   */
  constructor(prefix: unknown, layout: ValkeyKeyLayout, what: string) {
    if (typeof prefix !== "string" || prefix === "") {
      throw invalid(
        `${what} keyPrefix must be a non-empty string (an empty one would store keys under bare job ids), got ${
          describeValue(prefix)
        }`,
      );
    }
    if (CONTROL_CHARACTER.test(prefix)) {
      throw invalid(
        `${what} keyPrefix must not contain control characters, got ${
          JSON.stringify(prefix)
        }`,
      );
    }
    if (layout === "cluster" && /[{}]/.test(prefix)) {
      throw invalid(
        `${what} keyPrefix ${
          JSON.stringify(prefix)
        } has a brace: with keyLayout "cluster" the job id is the hash tag, and a tag in the prefix would put every job in one slot`,
      );
    }
    this.prefix = prefix;
    this.layout = layout;
  }

  /** The part of every key of `jobId` after the prefix. */
  #job(jobId: string): string {
    if (this.layout === "rust") return jobId;
    // "{}x" would be no hash tag at all: the keys of the job would scatter.
    if (jobId.startsWith("}")) {
      throw invalid(
        `job id ${
          JSON.stringify(jobId)
        } cannot be a hash tag (it starts with "}"); with keyLayout "cluster" choose another id`,
      );
    }
    return `{${jobId}}`;
  }

  /** The state key of `jobId`. */
  state(jobId: string): string {
    return this.prefix + this.#job(jobId);
  }

  /**
   * The Rust crate's earlier state key, read when the state key is absent;
   * only in the Rust layout with the default prefix.
   */
  legacyState(jobId: string): string | undefined {
    return this.layout === "rust" && this.prefix === DEFAULT_STATE_PREFIX
      ? LEGACY_STATE_PREFIX + jobId
      : undefined;
  }

  /** The lease key of the occurrence of `jobId` at `scheduledAt`. */
  lease(jobId: string, scheduledAt: Date | string): string {
    const at = typeof scheduledAt === "string"
      ? scheduledAt
      : formatRfc3339(scheduledAt.getTime(), 9);
    return `${this.prefix}${this.#job(jobId)}:${at}`;
  }

  /** The fencing counter of `jobId`. */
  fence(jobId: string): string {
    return `${this.prefix}${this.#job(jobId)}:fencing-token`;
  }

  /** The hash of `jobId`'s in-flight records (fields: lease timestamps). */
  inFlight(jobId: string): string {
    return `${this.prefix}${this.#job(jobId)}:in-flight`;
  }

  /**
   * Where damaged guard data of `jobId` is set aside (docs/recovery.md):
   * the key `what` (`fencing-token`, or a lease's timestamp) renamed at
   * `atMs`. In the job's slot, so that one script may RENAME into it.
   */
  quarantine(jobId: string, what: string, atMs: number): string {
    return `${this.prefix}${this.#job(jobId)}:quarantine:${what}:${atMs}`;
  }

  /** The hash keeping `jobId`'s in-flight records set aside. */
  quarantineInFlight(jobId: string): string {
    return `${this.prefix}${this.#job(jobId)}:quarantine:in-flight`;
  }

  /**
   * What `key` (under the prefix) is, or `undefined` when it is none of
   * the keys above. Read-only tools (the status view) use it, so that they
   * name keys exactly as the store and guard build them.
   */
  parse(key: string): ParsedKey | undefined {
    if (!key.startsWith(this.prefix)) return undefined;
    if (key === this.marker()) return { kind: "marker", jobId: "" };
    const rest = key.slice(this.prefix.length);
    let jobId: string;
    let tail: string;
    if (this.layout === "rust") {
      const match = RUST_TAIL.exec(rest);
      if (match === null) return { kind: "state", jobId: rest };
      [, jobId, tail] = match;
    } else {
      const close = rest.indexOf("}", 2);
      if (!rest.startsWith("{") || close < 0) return undefined;
      jobId = rest.slice(1, close);
      tail = rest.slice(close + 1);
      if (tail === "") return { kind: "state", jobId };
      if (!tail.startsWith(":")) return undefined;
      tail = tail.slice(1);
    }
    if (tail === "fencing-token") return { kind: "fence", jobId };
    if (tail === "in-flight") return { kind: "in-flight", jobId };
    if (tail === "quarantine:in-flight") {
      return { kind: "quarantine-in-flight", jobId };
    }
    const aside = /^quarantine:(.+):(\d+)$/.exec(tail);
    if (aside !== null) {
      return { kind: "quarantine", jobId, what: aside[1], at: +aside[2] };
    }
    if (RFC_3339.test(tail)) return { kind: "lease", jobId, what: tail };
    return this.layout === "rust" ? { kind: "state", jobId: rest } : undefined;
  }

  /** The key saying which layout the keys under the prefix use. */
  marker(): string {
    return this.prefix;
  }

  /** The marker's value for this layout. */
  markerValue(): string {
    return `cloudiful-scheduler key-layout ${this.layout}`;
  }

  /**
   * The refusal when the marker holds `found` (another layout's, or
   * something else), else `undefined`.
   */
  conflict(found: unknown): InvalidJobError | undefined {
    if (found === null || found === undefined || found === this.markerValue()) {
      return undefined;
    }
    return invalid(
      `keys under ${JSON.stringify(this.prefix)} are in use with ${
        typeof found === "string" &&
          found.startsWith("cloudiful-scheduler key-layout ")
          ? `keyLayout ${JSON.stringify(found.slice(31))}`
          : `something else (${describeValue(found)})`
      }, not keyLayout ${
        JSON.stringify(this.layout)
      }: instances sharing keys must use one layout (see docs/valkey.md)`,
    );
  }
}

/** A key read back: which of {@linkcode ValkeyKeys}' keys it is. */
export interface ParsedKey {
  readonly kind:
    | "marker"
    | "state"
    | "lease"
    | "fence"
    | "in-flight"
    | "quarantine"
    | "quarantine-in-flight";
  readonly jobId: string;
  /** A lease's timestamp; what a quarantine key set aside. */
  readonly what?: string;
  /** When a quarantine key was set aside (ms since the epoch). */
  readonly at?: number;
}

const RFC_3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z$/;
// The Rust layout's job id may hold colons: the known tails are matched at
// the end, the rest is the job id.
const RUST_TAIL =
  /^(.+?):(fencing-token|in-flight|quarantine:in-flight|quarantine:.+:\d+|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)$/;

function invalid(message: string): InvalidJobError {
  return new InvalidJobError(message, { kind: InvalidJobKind.Other });
}
