/**
 * The status command: `deno run -A jsr:@cloudiful/scheduler/status --kv PATH`
 * or `--valkey URL`, as a table or `--json`. See docs/observability.md.
 *
 * @module
 */

import { readDenoKvStatus, readValkeyStatus } from "./read_status.ts";
import { formatStatusTable } from "./status_table.ts";
import type { StatusReport } from "./stored_status.ts";

const USAGE = `usage: status (--kv PATH | --valkey URL) [--json]
                [--state-prefix PREFIX] [--lease-prefix PREFIX]
  --kv PATH             a Deno KV database file (never created)
  --valkey URL          redis://, rediss://, valkey:// or valkeys://
  --json                print the report as JSON instead of tables
  --state-prefix, --lease-prefix
                        the keyPrefix of the store / guard, if not the
                        default (a JSON array of key parts for --kv)`;

/** A command line the command cannot act on. */
class UsageError extends Error {}

function parse(args: readonly string[]) {
  const options: Record<string, string | true> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const [name, inline] = arg.split(/=(.*)/s, 2);
    if (name === "--json" && inline === undefined) {
      options.json = true;
    } else if (
      ["--kv", "--valkey", "--state-prefix", "--lease-prefix"].includes(name)
    ) {
      const value = inline ?? args[++i];
      if (value === undefined) throw new UsageError(`${name} needs a value`);
      options[name.slice(2)] = value;
    } else {
      throw new UsageError(`unknown argument ${JSON.stringify(arg)}`);
    }
  }
  if ((options.kv === undefined) === (options.valkey === undefined)) {
    throw new UsageError("give exactly one of --kv PATH and --valkey URL");
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
  if (typeof options.valkey === "string") {
    return await readValkeyStatus(options.valkey, {
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
