/**
 * The Valkey connection shared by the store and the guard: iovalkey with
 * fail-fast commands (no offline queue, bounded command time) and background
 * reconnection, error classification, and a close that really ends.
 *
 * @module
 */

// The two bracketing imports let `--allow-env=DEBUG` suffice on Deno; their
// order is their meaning (ES modules evaluate in import order).
import "./_debug_env_start.ts";
import { Valkey } from "iovalkey";
import "./_debug_env_end.ts";
import { retryWithBackoff } from "../_retry.ts";
import { InvalidJobKind } from "../constants.ts";
import {
  describeThrown,
  describeValue,
  InvalidJobError,
  isInstance,
} from "../errors.ts";

/** An iovalkey client. */
export type ValkeyClient = InstanceType<typeof Valkey>;

/** How long one command may take before it fails (kind `connection`). */
export const COMMAND_TIMEOUT_MS = 5_000;

/**
 * A client for `url` (`redis://`, `rediss://`, `valkey://` or `valkeys://`).
 * It does not connect yet; commands fail at once while disconnected instead
 * of queueing, and reconnection goes on in the background.
 */
export function createClient(url: string): ValkeyClient {
  const normalized = url.replace(/^valkey(s?):\/\//, "redis$1://");
  const client = new Valkey(normalized, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 2_000,
    // iovalkey arms this timer on disconnect() and clears it on the socket's
    // "close"; on an already closed socket it would keep a process alive
    // for its whole length (2 s by default) after close().
    disconnectTimeout: 50,
    commandTimeout: COMMAND_TIMEOUT_MS,
    retryStrategy: (attempt: number) => Math.min(attempt * 100, 2_000),
  });
  // iovalkey emits "error" for every failed (re)connection attempt; without
  // a listener Node's EventEmitter would throw it. Commands report their own
  // failures; the last event is kept because a failed connect() only says
  // "Connection is closed" while the event says why (WRONGPASS, LOADING...).
  client.on("error", (error: unknown) => lastErrors.set(client, error));
  // A failure of an earlier connection must not colour the errors of a
  // healthy one (see authFailure).
  client.on("ready", () => lastErrors.delete(client));
  return client;
}

const lastErrors = new WeakMap<ValkeyClient, unknown>();
/** Clients `closeClient()` was called on: their failures are final. */
const closedClients = new WeakSet<ValkeyClient>();

/** How long `connect()` waits for a server to become ready. */
export const CONNECT_BUDGET_MS = 5_000;

/** The server accepted the connection but never became ready. */
class NotReadyError extends Error {}

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
  /Connection is closed|Stream isn't writeable|enableOfflineQueue|Command timed out|MaxRetriesPerRequest|Reached the max retries|connect ETIMEDOUT|socket (hang up|closed)|^(LOADING|BUSY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN)\b/;

/** Refusals that no reconnection will cure: credentials and permissions. */
const CONFIGURATION_MESSAGES = /^(WRONGPASS|NOAUTH|NOPERM)\b/;
/** What the server holds is not what we expect. */
const DATA_MESSAGES = /^(WRONGTYPE\b|ERR value is not an integer)/;

/** Whether a client error means the server cannot be reached or used now. */
export function isConnectionError(error: unknown): boolean {
  if (isInstance(error, NotReadyError)) return true;
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
  options: { readonly client: ValkeyClient; readonly budgetMs: number },
): Promise<T> {
  const { client, budgetMs } = options;
  return retryWithBackoff(call, {
    budgetMs,
    // A refusal of credentials behind a connection error is not a blip.
    retryable: (error) =>
      !closedClients.has(client) && isConnectionError(error) &&
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
  if (client.status === "ready") return;
  const connecting = client.connect();
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

/** Checks a server URL (`redis://`, `rediss://`, `valkey://`, `valkeys://`). */
export function validateUrl(url: unknown, what: string): string {
  if (typeof url !== "string" || !/^(redis|valkey)s?:\/\//.test(url)) {
    throw new InvalidJobError(
      `${what} needs a URL such as "redis://127.0.0.1:6379", got ${
        describeValue(url)
      }`,
      { kind: InvalidJobKind.Other },
    );
  }
  return url;
}

/** Checks a key prefix. */
export function validatePrefix(prefix: unknown, what: string): string {
  if (typeof prefix !== "string") {
    throw new InvalidJobError(
      `${what} keyPrefix must be a string, got ${describeValue(prefix)}`,
      { kind: InvalidJobKind.Other },
    );
  }
  return prefix;
}
