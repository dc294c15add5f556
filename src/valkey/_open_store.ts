/**
 * Opening a Valkey state store: its options checked and its link built,
 * its connection's failure typed, and the resilient wrapper that starts
 * degraded when the server is down (see `ValkeyStateStore.connect` and
 * `ValkeyStateStore.resilient`).
 *
 * @module
 */

import {
  describeThrown,
  InvalidJobError,
  isInstance,
  type StoreError,
} from "../errors.ts";
import { checkOptions } from "../_options.ts";
import { resolveRetryBudget } from "../_retry.ts";
import { ResilientStateStore, startDegraded } from "../store/resilient.ts";
import type { StateStore } from "../store/state_store.ts";
import { DEFAULT_STATE_PREFIX } from "./_key_layout.ts";
import { ValkeyLink } from "./_link.ts";
import { toValkeyStoreError } from "./_store_errors.ts";
import type { ValkeyConnection } from "./connection.ts";
import type {
  ValkeyResilientOptions,
  ValkeyStateStoreOptions,
} from "./state_store_options.ts";

/**
 * Checks a store's options and builds its link (not connected yet).
 *
 * @throws {InvalidJobError} kind `other`, naming what is wrong.
 */
export function openStoreLink(
  connection: ValkeyConnection,
  options: ValkeyStateStoreOptions,
  what: string,
): { link: ValkeyLink; retryBudgetMs: number } {
  checkOptions(options, {
    what: `${what} options`,
    known: what.endsWith("resilient")
      ? ["keyPrefix", "keyLayout", "retryBudgetMs", "probeIntervalMs"]
      : ["keyPrefix", "keyLayout", "retryBudgetMs"],
  });
  const retryBudgetMs = resolveRetryBudget(options.retryBudgetMs, what);
  const link = ValkeyLink.open(connection, {
    what,
    keyPrefix: options.keyPrefix,
    defaultPrefix: DEFAULT_STATE_PREFIX,
    keyLayout: options.keyLayout,
  });
  return { link, retryBudgetMs };
}

/** `cause` of a failed connect of `link`, as the store reports it. */
function connectError(
  link: ValkeyLink,
  cause: unknown,
): StoreError | InvalidJobError {
  if (isInstance(cause, InvalidJobError)) return cause;
  return toValkeyStoreError(cause, {
    operation: undefined,
    subject: link.subject,
    client: link.client,
  });
}

/**
 * Connects `link`; on failure closes it and throws the typed error.
 */
export async function connectStoreLink(link: ValkeyLink): Promise<void> {
  try {
    await link.connect();
  } catch (cause) {
    await link.close();
    throw connectError(link, cause);
  }
}

/**
 * `store` behind a {@linkcode ResilientStateStore}, connected, or started
 * degraded when the server cannot be reached yet. Failures no reconnection
 * cures (credentials, database index, another layout) close it and throw.
 */
export async function openResilient(
  store: StateStore & { close(): Promise<void> },
  link: ValkeyLink,
  options: ValkeyResilientOptions,
): Promise<ResilientStateStore> {
  let resilient: ResilientStateStore;
  try {
    resilient = new ResilientStateStore(store, {
      probeIntervalMs: options.probeIntervalMs,
    });
  } catch (error) {
    await store.close();
    throw error;
  }
  try {
    await link.connect();
  } catch (cause) {
    const error = connectError(link, cause);
    if (isInstance(error, InvalidJobError) || error.kind !== "connection") {
      // Wrong credentials and the like: no reconnection will cure them.
      await store.close();
      throw error;
    }
    // The client keeps reconnecting in the background; until it does,
    // the wrapper serves from its mirror.
    startDegraded(resilient, describeThrown(cause));
  }
  return resilient;
}
