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

function invalid(message: string): InvalidJobError {
  return new InvalidJobError(message, { kind: InvalidJobKind.Other });
}
