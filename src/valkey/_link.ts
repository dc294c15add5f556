/**
 * What the Valkey store and guard share about their connection: the client
 * (built from a {@linkcode ValkeyConnection}, or the user's own), whether
 * the library may close it, the key layout, the retry budget's one entry
 * point, and a close that ends only what the library opened.
 *
 * @module
 */

import {
  checkScriptPermissions,
  closeClient,
  connectClient,
  retryConnection,
  watchClient,
} from "./_client.ts";
import { ValkeyKeys } from "./_key_layout.ts";
import {
  openClient,
  type OpenedClient,
  resolveKeyLayout,
  type ValkeyClient,
  type ValkeyTopology,
} from "./_open_client.ts";

/** How {@linkcode ValkeyLink.open} names things and finds its keys. */
export interface LinkOptions {
  /** The entry point, for error messages ("ValkeyStateStore.connect"). */
  readonly what: string;
  readonly keyPrefix: unknown;
  readonly defaultPrefix: string;
  readonly keyLayout: unknown;
}

/** One store's or guard's connection. */
export class ValkeyLink {
  readonly client: ValkeyClient;
  /** Whether the library built the client (and so closes it). */
  readonly owned: boolean;
  readonly topology: ValkeyTopology;
  /** The connection as error messages name it: without credentials. */
  readonly subject: string;
  /** Every key this store or guard uses. */
  readonly keys: ValkeyKeys;
  /** What the client connects to (see `OpenedClient.deployment`). */
  readonly deployment: unknown;
  #closed = false;
  #claimed = false;

  private constructor(opened: OpenedClient, keys: ValkeyKeys) {
    this.client = opened.client;
    this.owned = opened.owned;
    this.topology = opened.topology;
    this.subject = opened.subject;
    this.keys = keys;
    this.deployment = opened.deployment;
    watchClient(this.client, this.owned);
  }

  /**
   * Checks the connection, prefix and layout, and builds the client (not
   * connected yet).
   *
   * @throws {InvalidJobError} kind `other`, naming what is wrong.
   */
  static open(connection: unknown, options: LinkOptions): ValkeyLink {
    const opened = openClient(connection, options.what);
    try {
      const layout = resolveKeyLayout(
        options.keyLayout,
        opened.topology,
        options.what,
      );
      const keys = new ValkeyKeys(
        options.keyPrefix === undefined
          ? options.defaultPrefix
          : options.keyPrefix,
        layout,
        options.what,
      );
      return new ValkeyLink(opened, keys);
    } catch (error) {
      if (opened.owned) opened.client.disconnect();
      throw error;
    }
  }

  /**
   * Connects (or waits for the user's client to be ready), checks that
   * scripts may run, and claims the key prefix for this layout.
   *
   * @throws the client's failure as it is, or {InvalidJobError} for a
   * database index the server lacks or keys used with another layout.
   */
  async connect(): Promise<void> {
    await connectClient(this.client);
    await checkScriptPermissions(this.client);
    const { keys } = this;
    const found = await this.client.call(
      "SET",
      keys.marker(),
      keys.markerValue(),
      "NX",
      "GET",
    );
    const conflict = keys.conflict(found);
    if (conflict !== undefined) throw conflict;
    this.#claimed = true;
  }

  /**
   * Whether `other` talks to the same deployment, with the same key layout:
   * then one script may touch the keys of both (on a Cluster, a job's keys
   * of both share its slot).
   */
  sharesDeploymentWith(other: ValkeyLink): boolean {
    return other.deployment === this.deployment &&
      other.topology === this.topology &&
      other.keys.layout === this.keys.layout;
  }

  /**
   * Whether `connect()` has succeeded: the scripts may run and the prefix is
   * claimed for this layout.
   */
  get claimed(): boolean {
    return this.#claimed;
  }

  /** Whether `close()` was called: calls fail for good then. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Runs `call`, retrying connection-class failures for `budgetMs` while
   * the client reconnects (see `retryConnection`).
   */
  retry<T>(
    budgetMs: number,
    call: (client: ValkeyClient) => Promise<T>,
  ): Promise<T> {
    return retryConnection(() => call(this.client), {
      client: this.client,
      budgetMs,
      closed: () => this.#closed,
    });
  }

  /**
   * Ends the connection when the library opened it; a client the user
   * built stays open (only this store's or guard's calls stop).
   */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.owned) await closeClient(this.client);
  }
}
