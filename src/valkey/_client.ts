/**
 * The Valkey connection shared by the store and the guard: iovalkey with
 * fail-fast commands (no offline queue, bounded command time) and background
 * reconnection, error classification, and a close that really ends.
 *
 * @module
 */

import { retryWithBackoff } from "../_retry.ts";
import { InvalidJobKind } from "../constants.ts";
import { describeThrown, InvalidJobError, isInstance } from "../errors.ts";
import type { ValkeyClient } from "./_open_client.ts";

export type { ValkeyClient } from "./_open_client.ts";

/**
 * Follows a client's connection events: the last error (a failed connect()
 * only says "Connection is closed" while the event says why: WRONGPASS,
 * LOADING...), and refusals iovalkey lets pass. iovalkey emits a refused
 * `AUTH` or `SELECT` as an "error" event and still turns "ready" — as the
 * open default user, on database 0. Such a connection is marked refused and
 * dropped (when the library owns it), so no command runs as someone else.
 * Idempotent; safe on a client the user built.
 */
export function watchClient(client: ValkeyClient, owned: boolean): void {
  if (watched.has(client)) return;
  watched.add(client);
  let refusal: unknown;
  // Without an "error" listener Node's EventEmitter would throw the event.
  client.on("error", (error: unknown) => {
    lastErrors.set(client, error);
    if (isRefusal(error)) refusal ??= error;
  });
  client.on("connect", () => (refusal = undefined));
  client.on("ready", () => {
    if (refusal === undefined) {
      // A failure of an earlier connection must not colour the errors of
      // a healthy one (see authFailure).
      lastErrors.delete(client);
      refusals.delete(client);
      return;
    }
    lastErrors.set(client, refusal);
    refusals.set(client, refusal);
    if (owned) client.disconnect(true);
  });
}

const watched = new WeakSet<ValkeyClient>();
/** The refusal of the client's current connection, if any. */
const refusals = new WeakMap<ValkeyClient, unknown>();

/** A refused AUTH or SELECT: no reconnection will cure it. */
function isRefusal(error: unknown): boolean {
  return isAuthError(error) || DB_INDEX.test(describeThrown(error));
}
const DB_INDEX = /\bDB index is out of range\b/;

const lastErrors = new WeakMap<ValkeyClient, unknown>();
/** Clients `closeClient()` was called on: their failures are final. */
const closedClients = new WeakSet<ValkeyClient>();

/** How long `connect()` waits for a server to become ready. */
export const CONNECT_BUDGET_MS = 5_000;

/** The server accepted the connection but never became ready. */
class NotReadyError extends Error {}

/**
 * A Cluster node that no longer serves a job's slot (`MOVED`, `ASK`), or a
 * slot no known primary serves yet: the slot is moving, an outage that the
 * retry budget rides out while the slot table is refreshed.
 */
export class SlotInMotionError extends Error {}

const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);
const CONNECTION_MESSAGES =
  /Connection is closed|Stream isn't writeable|enableOfflineQueue|Command timed out|MaxRetriesPerRequest|Reached the max retries|connect ETIMEDOUT|socket (hang up|closed)|All sentinels are unreachable|None of startup nodes is available|Failed to refresh slots cache|Too many Cluster redirections|Cluster isn't ready|^(LOADING|BUSY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|READONLY|NOREPLICAS|UNBLOCKED|INPROG)\b|[Ff]ailover in progress/;

/** Refusals that no reconnection will cure: credentials and permissions. */
const CONFIGURATION_MESSAGES = /^(WRONGPASS|NOAUTH|NOPERM)\b/;
/** What the server holds is not what we expect. */
const DATA_MESSAGES =
  /^(WRONGTYPE\b|ERR value is not an integer|ERR damaged lease\b)/;

/** Whether a client error means the server cannot be reached or used now. */
export function isConnectionError(error: unknown): boolean {
  if (
    isInstance(error, NotReadyError) || isInstance(error, SlotInMotionError)
  ) {
    return true;
  }
  const message = describeThrown(error);
  if (CONFIGURATION_MESSAGES.test(message)) return false;
  let code: unknown;
  try {
    code = (error as { code?: unknown } | null)?.code;
  } catch {
    code = undefined; // a hostile proxy
  }
  if (typeof code === "string" && CONNECTION_CODES.has(code)) return true;
  return CONNECTION_MESSAGES.test(message);
}

/**
 * Runs one call of `client`, retrying connection-class failures (the client
 * reconnects in the background meanwhile) for up to `budgetMs`; data-class
 * and other failures, and any failure once the client was closed, propagate
 * at once.
 */
export function retryConnection<T>(
  call: () => Promise<T>,
  options: {
    readonly client: ValkeyClient;
    readonly budgetMs: number;
    /** Whether the caller was closed: its failures are final then. */
    readonly closed?: () => boolean;
  },
): Promise<T> {
  const { client, budgetMs, closed } = options;
  return retryWithBackoff(call, {
    budgetMs,
    // A refusal of credentials behind a connection error is not a blip.
    retryable: (error) =>
      !closedClients.has(client) && !closed?.() && isConnectionError(error) &&
      authFailure(client, error) === undefined,
  });
}

/** Whether a client error is a refusal of our credentials or permissions. */
export function isAuthError(error: unknown): boolean {
  return CONFIGURATION_MESSAGES.test(describeThrown(error));
}

/**
 * The credentials or permission refusal behind `error`, if there is one:
 * the error itself, or — for a command that failed because the connection
 * is down ("Stream isn't writeable") — why the last reconnection of `client`
 * failed. After a password rotation iovalkey's reconnects fail with
 * `WRONGPASS` while every command only says the stream is closed; this is
 * how that cause reaches each call.
 */
export function authFailure(
  client: ValkeyClient,
  error: unknown,
): unknown | undefined {
  if (isAuthError(error)) return error;
  if (client.status === "ready" || !isConnectionError(error)) return undefined;
  const last = lastErrors.get(client);
  return last !== undefined && isAuthError(last) ? last : undefined;
}

/** The class of a client failure. */
export type ValkeyFailureClass = "auth" | "connection" | "data" | "unknown";

/**
 * Classifies a failure of a call on `client` and describes it, naming the
 * refused credentials when a reconnection failed for that reason.
 */
export function classifyFailure(
  client: ValkeyClient | undefined,
  error: unknown,
): { kind: ValkeyFailureClass; message: string } {
  const auth = client === undefined
    ? (isAuthError(error) ? error : undefined)
    : authFailure(client, error);
  const message = describeThrown(error);
  if (auth !== undefined) {
    return {
      kind: "auth",
      message: auth === error
        ? message
        : `${message} (the server refuses the reconnection: ${
          describeThrown(auth)
        })`,
    };
  }
  return {
    kind: isConnectionError(error)
      ? "connection"
      : isDataError(error)
      ? "data"
      : "unknown",
    message,
  };
}

/** Whether a server error says a key holds something it should not. */
export function isDataError(error: unknown): boolean {
  return DATA_MESSAGES.test(describeThrown(error));
}

/**
 * Connects within {@linkcode CONNECT_BUDGET_MS} (a server still `LOADING`
 * would otherwise keep `connect()` waiting), or throws the most telling
 * error: the server's own (`WRONGPASS`...) rather than "Connection is
 * closed". On a timeout the client goes on trying in the background.
 */
export async function connectClient(client: ValkeyClient): Promise<void> {
  if (client.status !== "ready") await becomeReady(client);
  const refusal = refusals.get(client);
  if (refusal === undefined) return;
  if (DB_INDEX.test(describeThrown(refusal))) {
    throw new InvalidJobError(
      `the server has no such database index (${describeThrown(refusal)})`,
      { kind: InvalidJobKind.Other },
    );
  }
  throw refusal;
}

async function becomeReady(client: ValkeyClient): Promise<void> {
  // A client the user built may already be connecting: wait for it then.
  const connecting = ["connecting", "connect", "reconnecting"].includes(
      client.status,
    )
    ? new Promise<void>((resolve) => client.once("ready", () => resolve()))
    : client.connect();
  connecting.catch(() => {}); // it may settle after the timeout
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new NotReadyError(
            `the server did not become ready within ${CONNECT_BUDGET_MS} ms (${
              describeThrown(lastErrors.get(client) ?? "still loading?")
            })`,
          ),
        ),
      CONNECT_BUDGET_MS,
    );
  });
  try {
    await Promise.race([connecting, timeout]);
  } catch (error) {
    if (isInstance(error, NotReadyError)) throw error;
    throw lastErrors.get(client) ?? error;
  } finally {
    clearTimeout(timer);
  }
}

/** How long `close()` waits for the server to answer `QUIT`. */
const QUIT_GRACE_MS = 500;

/** A SHA1 no script has: EVALSHA with it answers NOSCRIPT when permitted. */
const ABSENT_SCRIPT_SHA = "0".repeat(40);

/**
 * Checks at connect time that the user may run scripts. iovalkey sends a
 * script's first call on a connection as `EVAL` and later ones as
 * `EVALSHA`, so an ACL that denies only `EVALSHA` would otherwise pass the
 * first occurrence and fail the second.
 *
 * @throws the server's `NOPERM` error when `EVAL` or `EVALSHA` is denied.
 */
export async function checkScriptPermissions(
  client: ValkeyClient,
): Promise<void> {
  await client.eval("return 1", 0);
  try {
    await client.evalsha(ABSENT_SCRIPT_SHA, 0);
  } catch (error) {
    if (!/^NOSCRIPT\b/.test(describeThrown(error))) throw error;
  }
}

/**
 * Ends the connection so that a process or test can exit: `QUIT` when
 * connected (waiting for the `end` event), a plain disconnect otherwise.
 */
export async function closeClient(client: ValkeyClient): Promise<void> {
  // Marked first: a call retrying meanwhile must stop, whatever status
  // iovalkey reports between its reconnect attempts.
  closedClients.add(client);
  const status = client.status;
  if (status === "end") return;
  if (status === "reconnecting") {
    // Between attempts there is no socket: disconnect() clears the timer.
    client.disconnect();
    return;
  }
  const ended = new Promise<void>((resolve) => client.once("end", resolve));
  if (status === "ready") {
    // A paused server never answers QUIT: give it a moment, not the whole
    // command timeout, then drop the socket.
    let quitTimer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        client.quit(),
        new Promise((_, reject) =>
          quitTimer = setTimeout(
            () => reject(new Error("no answer to QUIT")),
            QUIT_GRACE_MS,
          )
        ),
      ]);
    } catch {
      client.disconnect();
    } finally {
      clearTimeout(quitTimer);
    }
  } else {
    client.disconnect();
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    ended,
    new Promise<void>((resolve) => (timer = setTimeout(resolve, 2_000))),
  ]);
  clearTimeout(timer);
}
