/**
 * Where the Valkey store and guard connect: one server by URL, a primary
 * found through Sentinel, a Cluster, or a client the user built. See
 * `docs/valkey.md` ("Running on Sentinel or Cluster").
 *
 * @module
 */

/**
 * A host and port of a Sentinel or of a Cluster's startup node.
 *
 * @example
 * ```ts
 * import type { ValkeyNodeAddress } from "@cloudiful/scheduler/valkey";
 * const node: ValkeyNodeAddress = { host: "127.0.0.1", port: 26379 };
 * ```
 */
export interface ValkeyNodeAddress {
  /** A host name or IP address. */
  readonly host: string;
  /** A TCP port, 1–65535. */
  readonly port: number;
}

/**
 * A primary (and its replicas) watched by Sentinels: the client asks the
 * Sentinels where the primary named `name` is, and asks again after a
 * failover.
 *
 * @example
 * ```ts
 * import type { ValkeySentinelConnection } from "@cloudiful/scheduler/valkey";
 * const connection: ValkeySentinelConnection = {
 *   sentinels: [{ host: "10.0.0.1", port: 26379 }, { host: "10.0.0.2", port: 26379 }],
 *   name: "mymaster",
 *   password: "secret",
 * };
 * ```
 */
export interface ValkeySentinelConnection {
  /** At least one Sentinel; the others are found through it. */
  readonly sentinels: readonly ValkeyNodeAddress[];
  /** The primary's name in the Sentinels' configuration. */
  readonly name: string;
  /** The data nodes' ACL user (default: the `default` user). */
  readonly username?: string;
  /** The data nodes' password. */
  readonly password?: string;
  /** The Sentinels' own ACL user, when they require one. */
  readonly sentinelUsername?: string;
  /** The Sentinels' own password, when they require one. */
  readonly sentinelPassword?: string;
  /**
   * TLS to the Sentinels and the data nodes.
   *
   * @default {false}
   */
  readonly tls?: boolean;
  /**
   * The database index on the primary.
   *
   * @default {0}
   */
  readonly db?: number;
}

/**
 * A Valkey Cluster, found through one or more startup nodes. `MOVED` and
 * `ASK` redirections and slot refreshes are the client's business; the
 * store and the guard keep each job's keys in one slot (key layout
 * `"cluster"`).
 *
 * @example
 * ```ts
 * import type { ValkeyClusterConnection } from "@cloudiful/scheduler/valkey";
 * const connection: ValkeyClusterConnection = {
 *   cluster: [{ host: "10.0.0.1", port: 6379 }, { host: "10.0.0.2", port: 6379 }],
 * };
 * ```
 */
export interface ValkeyClusterConnection {
  /** Startup nodes; the rest of the cluster is discovered from them. */
  readonly cluster: readonly ValkeyNodeAddress[];
  /** The ACL user on every node. */
  readonly username?: string;
  /** The password on every node. */
  readonly password?: string;
  /**
   * TLS to every node.
   *
   * @default {false}
   */
  readonly tls?: boolean;
}

/**
 * A client the user built and owns: an iovalkey `Valkey` (single server or
 * Sentinel) or `Cluster`. The library connects it if it is not connected
 * yet, but never closes it: `close()` only stops the store's or guard's own
 * calls. Fail-fast client options (`enableOfflineQueue: false`,
 * `maxRetriesPerRequest: 0`, a `commandTimeout`) keep the library's retry
 * budget meaningful; see `docs/valkey.md`.
 *
 * @example
 * ```ts ignore
 * import { Cluster } from "npm:iovalkey@0.4";
 * import { ValkeyStateStore } from "@cloudiful/scheduler/valkey";
 * const cluster = new Cluster([{ host: "127.0.0.1", port: 7000 }]);
 * const store = await ValkeyStateStore.connect({ client: cluster });
 * await store.close(); // the cluster client stays open
 * cluster.disconnect();
 * ```
 */
export interface ValkeyClientConnection {
  /** The user's client: an iovalkey `Valkey` or `Cluster` instance. */
  readonly client: ValkeyIovalkeyClient;
}

/**
 * An iovalkey `Valkey` or `Cluster` instance, as the options name it (the
 * library checks at run time that it is one; the iovalkey classes are not
 * part of this package's documented types).
 *
 * @example
 * ```ts ignore
 * import { Valkey } from "npm:iovalkey@0.4";
 * import type { ValkeyIovalkeyClient } from "@cloudiful/scheduler/valkey";
 * const client: ValkeyIovalkeyClient = new Valkey("redis://127.0.0.1:6379");
 * ```
 */
export interface ValkeyIovalkeyClient {
  /** iovalkey's connection status ("wait", "connecting", "ready", ...). */
  readonly status: string;
}

/**
 * How the store, the guard and the resilient store reach Valkey: a URL
 * (`redis://`, `rediss://`, `valkey://`, `valkeys://`, with an optional
 * user, password and database index, and no query parameters), a Sentinel
 * or Cluster configuration, or a client the user built.
 *
 * @example
 * ```ts
 * import type { ValkeyConnection } from "@cloudiful/scheduler/valkey";
 * const single: ValkeyConnection = "redis://app:secret@127.0.0.1:6379/2";
 * const cluster: ValkeyConnection = { cluster: [{ host: "127.0.0.1", port: 7000 }] };
 * console.log(typeof single, "cluster" in cluster);
 * ```
 */
export type ValkeyConnection =
  | string
  | ValkeySentinelConnection
  | ValkeyClusterConnection
  | ValkeyClientConnection;

/**
 * How keys are named. `"rust"`: the Rust crate's keys
 * (`<prefix><jobId>`, `<prefix><jobId>:<scheduledAt>`), for a single server
 * or Sentinel, shared with Rust instances. `"cluster"`: the job id as a hash
 * tag (`<prefix>{<jobId>}`, `<prefix>{<jobId>}:<scheduledAt>`), so all keys
 * of a job live in one slot; required on a Cluster, usable anywhere.
 *
 * @example
 * ```ts
 * import type { ValkeyKeyLayout } from "@cloudiful/scheduler/valkey";
 * const layout: ValkeyKeyLayout = "cluster";
 * console.log(layout);
 * ```
 */
export type ValkeyKeyLayout = "rust" | "cluster";
