/**
 * From a `ValkeyConnection` (`connection.ts`) to an iovalkey client: the connection
 * checked (a URL without query parameters and with a sane database index,
 * Sentinel and Cluster addresses, a user-built client), then a client with
 * fail-fast commands (no offline queue, bounded command time) and
 * background reconnection — or the user's own client, which is never closed.
 *
 * @module
 */

// The two bracketing imports let `--allow-env=DEBUG` suffice on Deno; their
// order is their meaning (ES modules evaluate in import order).
import "./_debug_env_start.ts";
import { Cluster, Valkey } from "iovalkey";
import "./_debug_env_end.ts";
import { InvalidJobKind } from "../constants.ts";
import { describeValue, InvalidJobError, isInstance } from "../errors.ts";
import { checkOptions } from "../_options.ts";
import type { ValkeyKeyLayout, ValkeyNodeAddress } from "./connection.ts";

/** An iovalkey client: one server (maybe through Sentinel) or a Cluster. */
export type ValkeyClient = Valkey | Cluster;

/** How long one command may take before it fails (kind `connection`). */
export const COMMAND_TIMEOUT_MS = 5_000;

/** Which deployment a client talks to. */
export type ValkeyTopology = "single" | "sentinel" | "cluster";

/** A client ready to connect, and what the library may do with it. */
export interface OpenedClient {
  readonly client: ValkeyClient;
  /** Whether the library built it (and so closes it). */
  readonly owned: boolean;
  readonly topology: ValkeyTopology;
  /** The connection as error messages name it: without credentials. */
  readonly subject: string;
  /**
   * What the client connects to, for telling whether a store and a guard
   * share one deployment: the user's client itself, or the checked
   * connection as text (the same URL, or the same Sentinel or Cluster
   * configuration, with the same credentials).
   */
  readonly deployment: unknown;
}

/** `connection` as text, or itself when it has no text form. */
function describeDeployment(connection: object): unknown {
  try {
    return JSON.stringify(connection);
  } catch {
    return connection;
  }
}

function invalid(message: string): InvalidJobError {
  return new InvalidJobError(message, { kind: InvalidJobKind.Other });
}

/** Options every client the library builds shares (data nodes). */
const FAIL_FAST = {
  lazyConnect: true,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  connectTimeout: 2_000,
  // iovalkey arms this timer on disconnect() and clears it on the socket's
  // "close"; on an already closed socket it would keep a process alive
  // for its whole length (2 s by default) after close().
  disconnectTimeout: 50,
  commandTimeout: COMMAND_TIMEOUT_MS,
  // A primary demoted by a failover answers writes with READONLY: a new
  // connection (through Sentinel: to the new primary) is the cure. The
  // command is not resent; the caller's retry budget repeats it.
  reconnectOnError: (error: Error) => /^READONLY\b/.test(error.message),
} as const;

const backoff = (attempt: number) => Math.min(attempt * 100, 2_000);

/**
 * Checks `connection` and builds its client (not connected yet).
 *
 * @throws {InvalidJobError} kind `other`, naming what is wrong.
 */
export function openClient(connection: unknown, what: string): OpenedClient {
  if (typeof connection === "string") return openUrl(connection, what);
  if (
    typeof connection !== "object" || connection === null ||
    Array.isArray(connection)
  ) {
    throw invalid(
      `${what} needs a URL such as "redis://127.0.0.1:6379", a Sentinel or Cluster configuration, or { client }, got ${
        describeValue(connection)
      }`,
    );
  }
  if ("client" in connection) {
    checkOptions(connection, { what: `${what} connection`, known: ["client"] });
    const client = (connection as { client: unknown }).client;
    if (isInstance(client, Cluster)) {
      return {
        client,
        owned: false,
        topology: "cluster",
        subject: "cluster",
        deployment: client,
      };
    }
    if (isInstance(client, Valkey)) {
      const sentinel = (client.options as { sentinels?: unknown[] })
        .sentinels;
      return {
        client,
        owned: false,
        topology: sentinel?.length ? "sentinel" : "single",
        subject: "the given client",
        deployment: client,
      };
    }
    throw invalid(
      `${what} connection { client } needs an iovalkey Valkey or Cluster client, got ${
        describeValue(client)
      }`,
    );
  }
  if ("cluster" in connection) return openCluster(connection, what);
  if ("sentinels" in connection) return openSentinel(connection, what);
  throw invalid(
    `${what} connection needs "sentinels", "cluster" or "client", got ${
      describeValue(connection)
    }`,
  );
}

/** Checks a server URL and builds its client. */
function openUrl(url: string, what: string): OpenedClient {
  const example = `such as "redis://127.0.0.1:6379"`;
  const subject = redact(url);
  if (!/^(redis|valkey)s?:\/\//.test(url)) {
    throw invalid(`${what} needs a URL ${example}, got ${describeValue(url)}`);
  }
  const normalized = url.replace(/^valkey(s?):\/\//, "redis$1://");
  let parsed: URL;
  try {
    parsed = new URL(normalized);
  } catch {
    throw invalid(`${what}: ${JSON.stringify(subject)} is not a URL`);
  }
  if (parsed.hostname === "") {
    throw invalid(`${what}: ${JSON.stringify(subject)} names no host`);
  }
  if (parsed.search !== "" || parsed.hash !== "") {
    const names = [...parsed.searchParams.keys()];
    throw invalid(
      `${what}: ${JSON.stringify(subject)} has URL parameters (${
        names.length > 0 ? names.join(", ") : parsed.search + parsed.hash
      }) the library does not read; give the address, credentials and database index only`,
    );
  }
  const path = parsed.pathname;
  if (path !== "" && path !== "/" && !/^\/(0|[1-9][0-9]{0,8})$/.test(path)) {
    throw invalid(
      `${what}: ${
        JSON.stringify(subject)
      } has ${path} where a database index (/0, /1, ...) belongs`,
    );
  }
  const client = new Valkey(normalized, {
    ...FAIL_FAST,
    retryStrategy: backoff,
  });
  return {
    client,
    owned: true,
    topology: "single",
    subject,
    deployment: `url ${normalized}`,
  };
}

function checkAddresses(
  nodes: unknown,
  what: string,
): { host: string; port: number }[] {
  if (!Array.isArray(nodes) || nodes.length === 0) {
    throw invalid(
      `${what} needs at least one { host, port }, got ${describeValue(nodes)}`,
    );
  }
  return nodes.map((node: ValkeyNodeAddress, index) => {
    checkOptions(node, { what: `${what}[${index}]`, known: ["host", "port"] });
    if (typeof node.host !== "string" || node.host === "") {
      throw invalid(
        `${what}[${index}].host must be a host name, got ${
          describeValue(node.host)
        }`,
      );
    }
    if (!Number.isInteger(node.port) || node.port < 1 || node.port > 65_535) {
      throw invalid(
        `${what}[${index}].port must be an integer 1-65535, got ${
          describeValue(node.port)
        }`,
      );
    }
    return { host: node.host, port: node.port };
  });
}

function optionalString(value: unknown, what: string): string | undefined {
  if (value === undefined || typeof value === "string") return value;
  throw invalid(`${what} must be a string, got ${describeValue(value)}`);
}

function optionalBoolean(value: unknown, what: string): boolean {
  if (value === undefined || typeof value === "boolean") return !!value;
  throw invalid(`${what} must be a boolean, got ${describeValue(value)}`);
}

function openSentinel(connection: object, what: string): OpenedClient {
  const known = [
    "sentinels",
    "name",
    "username",
    "password",
    "sentinelUsername",
    "sentinelPassword",
    "tls",
    "db",
  ];
  const options = checkOptions(connection as Record<string, unknown>, {
    what: `${what} Sentinel connection`,
    known,
  });
  const sentinels = checkAddresses(options.sentinels, `${what} sentinels`);
  if (typeof options.name !== "string" || options.name === "") {
    throw invalid(
      `${what} Sentinel connection needs the primary's name, got ${
        describeValue(options.name)
      }`,
    );
  }
  const db = options.db ?? 0;
  if (!Number.isSafeInteger(db) || (db as number) < 0) {
    throw invalid(
      `${what} Sentinel connection db must be an integer >= 0, got ${
        describeValue(options.db)
      }`,
    );
  }
  for (const key of known.slice(2, 6)) {
    optionalString(options[key], `${what} Sentinel connection ${key}`);
  }
  const tls = optionalBoolean(options.tls, `${what} Sentinel connection tls`);
  const client = new Valkey({
    ...FAIL_FAST,
    sentinels,
    name: options.name,
    db: db as number,
    username: options.username as string | undefined,
    password: options.password as string | undefined,
    sentinelUsername: options.sentinelUsername as string | undefined,
    sentinelPassword: options.sentinelPassword as string | undefined,
    ...(tls ? { tls: {}, enableTLSForSentinelMode: true } : {}),
    retryStrategy: backoff,
    sentinelRetryStrategy: backoff,
    // Sentinel announces a switch at once; without it the client finds out
    // from its next failed command.
    failoverDetector: false,
  });
  return {
    client,
    owned: true,
    topology: "sentinel",
    subject: `Sentinel primary ${JSON.stringify(options.name)}`,
    deployment: describeDeployment(connection),
  };
}

function openCluster(connection: object, what: string): OpenedClient {
  const options = checkOptions(connection as Record<string, unknown>, {
    what: `${what} Cluster connection`,
    known: ["cluster", "username", "password", "tls"],
  });
  const nodes = checkAddresses(options.cluster, `${what} cluster`);
  const username = optionalString(
    options.username,
    `${what} Cluster connection username`,
  );
  const password = optionalString(
    options.password,
    `${what} Cluster connection password`,
  );
  const tls = optionalBoolean(options.tls, `${what} Cluster connection tls`);
  const { lazyConnect, enableOfflineQueue, ...nodeOptions } = FAIL_FAST;
  const client = new Cluster(nodes, {
    lazyConnect,
    enableOfflineQueue,
    clusterRetryStrategy: backoff,
    slotsRefreshTimeout: 2_000,
    redisOptions: {
      ...nodeOptions,
      username,
      password,
      ...(tls ? { tls: {} } : {}),
    },
  });
  return {
    client,
    owned: true,
    topology: "cluster",
    subject: `cluster ${nodes.map((n) => `${n.host}:${n.port}`).join(",")}`,
    deployment: describeDeployment(connection),
  };
}

/**
 * The key layout for `topology`: `requested` when given (refused where it
 * cannot work), else `"cluster"` on a Cluster and `"rust"` elsewhere.
 *
 * @throws {InvalidJobError} kind `other` for an unknown layout or the Rust
 * layout on a Cluster.
 */
export function resolveKeyLayout(
  requested: unknown,
  topology: ValkeyTopology,
  what: string,
): ValkeyKeyLayout {
  if (requested === undefined) {
    return topology === "cluster" ? "cluster" : "rust";
  }
  if (requested !== "rust" && requested !== "cluster") {
    throw invalid(
      `${what} keyLayout must be "rust" or "cluster", got ${
        describeValue(requested)
      }`,
    );
  }
  if (requested === "rust" && topology === "cluster") {
    throw invalid(
      `${what} keyLayout "rust" cannot run on a Cluster: a job's keys would hash to different slots; use "cluster"`,
    );
  }
  return requested;
}

/** A URL fit for an error message: without its credentials. */
export function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, "//***@");
}
