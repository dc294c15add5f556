/**
 * The status command: `deno run -A jsr:@cloudiful/scheduler/status --kv PATH`,
 * `--valkey URL`, `--sentinel host:port[,…] --name NAME` or
 * `--cluster host:port[,…]`, as a table or `--json`. See
 * docs/observability.md.
 *
 * @module
 */

import { readDenoKvStatus, readValkeyStatus } from "./read_status.ts";
import { formatStatusTable } from "./status_table.ts";
import type { StatusReport } from "./stored_status.ts";
import { UsageError } from "./_usage_error.ts";
import {
  PASSWORD_ENV,
  SENTINEL_PASSWORD_ENV,
  valkeyConnection,
} from "./_cli_valkey.ts";

const USAGE = `usage: status (--kv PATH | --valkey URL
                | --sentinel HOST:PORT[,...] --name NAME [--db N]
                | --cluster HOST:PORT[,...])
                [--username USER] [--tls] [--json]
                [--state-prefix PREFIX] [--lease-prefix PREFIX]
  --kv PATH             a Deno KV database file (never created)
  --valkey URL          redis://, rediss://, valkey:// or valkeys://
  --sentinel HOST:PORT,...  Sentinels watching the primary --name NAME
                        (read on the current primary; --db N: its index)
  --cluster HOST:PORT,...   startup nodes of a Cluster (every primary read)
  --username USER       the ACL user of the Sentinel's or Cluster's nodes
  --tls                 TLS to the Sentinels' or Cluster's nodes
  --json                print the report as JSON instead of tables
  --state-prefix, --lease-prefix
                        the keyPrefix of the store / guard, if not the
                        default (a JSON array of key parts for --kv)
  Passwords come from the environment only: ${PASSWORD_ENV} (the data
  nodes'), ${SENTINEL_PASSWORD_ENV} (the Sentinels' own).`;

const VALUED = [
  "--kv",
  "--valkey",
  "--sentinel",
  "--name",
  "--db",
  "--cluster",
  "--username",
  "--state-prefix",
  "--lease-prefix",
];
const SOURCES = ["kv", "valkey", "sentinel", "cluster"];

function parse(args: readonly string[]) {
  const options: Record<string, string | true> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const [name, inline] = arg.split(/=(.*)/s, 2);
    if ((name === "--json" || name === "--tls") && inline === undefined) {
      options[name.slice(2)] = true;
    } else if (VALUED.includes(name)) {
      const value = inline ?? args[++i];
      if (value === undefined) throw new UsageError(`${name} needs a value`);
      if (options[name.slice(2)] !== undefined) {
        throw new UsageError(`${name} is given twice`);
      }
      options[name.slice(2)] = value;
    } else if (name === "--password" || name === "--sentinel-password") {
      throw new UsageError(
        `${name} is not taken (a process list would show it): set ${
          name === "--password" ? PASSWORD_ENV : SENTINEL_PASSWORD_ENV
        } instead`,
      );
    } else {
      throw new UsageError(`unknown argument ${JSON.stringify(arg)}`);
    }
  }
  if (SOURCES.filter((source) => options[source] !== undefined).length !== 1) {
    throw new UsageError(
      "give exactly one of --kv PATH, --valkey URL, --sentinel HOST:PORT,... and --cluster HOST:PORT,...",
    );
  }
  if (options.kv !== undefined) {
    for (const flag of ["name", "db", "username", "tls"]) {
      if (options[flag] !== undefined) {
        throw new UsageError(`--${flag} does not apply to --kv`);
      }
    }
  }
  return options;
}

function kvPrefix(text: string | true | undefined): Deno.KvKey | undefined {
  if (typeof text !== "string") return undefined;
  try {
    const value = JSON.parse(text);
    if (Array.isArray(value)) return value;
  } catch { /* reported below */ }
  throw new UsageError(
    `a Deno KV prefix is a JSON array of key parts, got ${
      JSON.stringify(text)
    }`,
  );
}

async function read(
  options: Record<string, string | true>,
): Promise<StatusReport> {
  const state = options["state-prefix"];
  const lease = options["lease-prefix"];
  const connection = valkeyConnection(options, (name) => Deno.env.get(name));
  if (connection !== undefined) {
    return await readValkeyStatus(connection, {
      ...(typeof state === "string" ? { statePrefix: state } : {}),
      ...(typeof lease === "string" ? { leasePrefix: lease } : {}),
    });
  }
  const path = options.kv as string;
  // Deno.openKv creates a missing file: the status view must not.
  try {
    await Deno.stat(path);
  } catch {
    throw new Error(`no Deno KV database at ${JSON.stringify(path)}`);
  }
  const kv = await Deno.openKv(path);
  try {
    const statePrefix = kvPrefix(state);
    const leasePrefix = kvPrefix(lease);
    return await readDenoKvStatus(kv, {
      ...(statePrefix === undefined ? {} : { statePrefix }),
      ...(leasePrefix === undefined ? {} : { leasePrefix }),
    });
  } finally {
    kv.close();
  }
}

/** Runs the command; returns the exit code (0, 1 on failure, 2 on usage). */
export async function main(args: readonly string[]): Promise<number> {
  try {
    const options = parse(args);
    const report = await read(options);
    console.log(
      options.json === true
        ? JSON.stringify(report, null, 2)
        : formatStatusTable(report),
    );
    return 0;
  } catch (thrown) {
    if (thrown instanceof UsageError) {
      console.error(`status: ${thrown.message}\n${USAGE}`);
      return 2;
    }
    console.error(
      `status: ${thrown instanceof Error ? thrown.message : String(thrown)}`,
    );
    return 1;
  }
}
