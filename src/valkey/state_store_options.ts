/**
 * The options of the Valkey state store and of its resilient wrapper.
 *
 * @module
 */

import type { ValkeyKeyLayout } from "./connection.ts";

/**
 * Options of `ValkeyStateStore.connect`.
 *
 * @example
 * ```ts
 * import type { ValkeyStateStoreOptions } from "@cloudiful/scheduler/valkey";
 * // For ValkeyStateStore.connect(url, options).
 * const options: ValkeyStateStoreOptions = { keyPrefix: "my-app:job-state:" };
 * ```
 */
export interface ValkeyStateStoreOptions {
  /**
   * Keys are `<keyPrefix><jobId>` (layout `"rust"`) or
   * `<keyPrefix>{<jobId>}` (layout `"cluster"`). Not empty, no control
   * characters; no braces with the `"cluster"` layout.
   *
   * @default {"scheduler:valkey:job-state:"}
   */
  keyPrefix?: string;
  /**
   * How keys are named (see {@linkcode ValkeyKeyLayout}): `"cluster"` on a
   * Cluster (the only layout it accepts), `"rust"` elsewhere. Every
   * instance sharing the keys must use the same layout; `connect()` refuses
   * keys claimed by another one.
   *
   * @default {"rust" ("cluster" on a Cluster)}
   */
  keyLayout?: ValkeyKeyLayout;
  /**
   * How long a call retries connection-class failures (refused, reset,
   * timeout, closed, `LOADING`...) with a capped exponential back-off before
   * it fails with kind `connection`; 0 fails at once. A call settles within
   * this budget or the client's 5 s command timeout, whichever is longer.
   *
   * @default {10000}
   */
  retryBudgetMs?: number;
}

/**
 * Options of `ValkeyStateStore.resilient`.
 *
 * @example
 * ```ts
 * import type { ValkeyResilientOptions } from "@cloudiful/scheduler/valkey";
 * // For ValkeyStateStore.resilient(url, options).
 * const options: ValkeyResilientOptions = { probeIntervalMs: 10_000 };
 * ```
 */
export interface ValkeyResilientOptions extends ValkeyStateStoreOptions {
  /**
   * How long the wrapped store retries a connection-class failure before
   * the wrapper serves from its mirror. 0 (the default) degrades at once, so
   * no call waits on the server.
   *
   * @default {0}
   */
  retryBudgetMs?: number;
  /**
   * While degraded, the server is tried again at most once per this many ms.
   *
   * @default {5000}
   */
  probeIntervalMs?: number;
}
