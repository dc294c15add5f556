/**
 * The failures of the Valkey state store's calls, typed: a
 * {@linkcode StoreError} that names the call, what it was about, and the
 * class of the failure.
 *
 * @module
 */

import type { StoreOperation } from "../constants.ts";
import { isInstance, StoreError } from "../errors.ts";
import { classifyFailure, type ValkeyClient } from "./_client.ts";

/** Where a client failure happened, for {@linkcode toValkeyStoreError}. */
export interface ValkeyFailureSite {
  /** The store call, or `undefined` for connecting. */
  readonly operation: StoreOperation | undefined;
  /** What the call was about: a job, or the redacted URL. */
  readonly subject: string;
  /** The client, whose failed reconnections explain a closed stream. */
  readonly client?: ValkeyClient;
}

/** Wraps a client failure as a StoreError with its class. */
export function toValkeyStoreError(
  cause: unknown,
  site: ValkeyFailureSite,
): StoreError {
  if (isInstance(cause, StoreError)) return cause;
  const { kind, message } = classifyFailure(site.client, cause);
  return new StoreError(
    `Valkey ${
      site.operation ?? "connect"
    } failed for ${site.subject}: ${message}`,
    { kind, operation: site.operation, cause },
  );
}
