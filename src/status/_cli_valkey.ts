/**
 * The status command's Valkey flags as a `ValkeyConnection`: `--valkey URL`,
 * `--sentinel host:port[,…] --name NAME` or `--cluster host:port[,…]`, with
 * `--username`, `--db`, `--tls`, and passwords only from the environment
 * (`VALKEY_PASSWORD`, `VALKEY_SENTINEL_PASSWORD`), so that no secret shows in
 * a process list. See docs/observability.md.
 *
 * @module
 */

import type {
  ValkeyConnection,
  ValkeyNodeAddress,
} from "../valkey/connection.ts";
import { UsageError } from "./_usage_error.ts";

/** The flags this file reads, as `_cli.ts` parsed them. */
export type ValkeyFlags = Readonly<Record<string, string | true | undefined>>;

/** The environment variables the command reads passwords from. */
export const PASSWORD_ENV = "VALKEY_PASSWORD";
/** The Sentinels' own password, when they require one. */
export const SENTINEL_PASSWORD_ENV = "VALKEY_SENTINEL_PASSWORD";

/** `host:port` or `[v6-address]:port`, checked. */
function address(text: string, flag: string): ValkeyNodeAddress {
  const match = /^(?:\[([^\]]+)\]|([^:\s]+)):([0-9]{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  if (match === null || port < 1 || port > 65_535) {
    throw new UsageError(
      `${flag} takes host:port[,host:port...] with a port 1-65535, got ${
        JSON.stringify(text)
      }`,
    );
  }
  return { host: match[1] ?? match[2], port };
}

function addresses(text: string, flag: string): ValkeyNodeAddress[] {
  return text.split(",").map((part) => address(part.trim(), flag));
}

function text(flags: ValkeyFlags, name: string): string | undefined {
  const value = flags[name];
  return typeof value === "string" ? value : undefined;
}

/** Refuses `flags` that the chosen kind of connection does not read. */
function onlyWith(flags: ValkeyFlags, names: string[], kind: string): void {
  for (const name of names) {
    if (flags[name] !== undefined) {
      throw new UsageError(`--${name} does not apply to ${kind}`);
    }
  }
}

/**
 * The connection the flags name, or `undefined` when they name no Valkey
 * deployment.
 *
 * @throws {UsageError} naming the bad value or the missing flag.
 */
export function valkeyConnection(
  flags: ValkeyFlags,
  env: (name: string) => string | undefined,
): ValkeyConnection | undefined {
  const password = env(PASSWORD_ENV) || undefined;
  const username = text(flags, "username");
  const tls = flags.tls === true;
  const url = text(flags, "valkey");
  const sentinel = text(flags, "sentinel");
  const cluster = text(flags, "cluster");
  if (url !== undefined) {
    onlyWith(
      flags,
      ["username", "db", "tls", "name"],
      "--valkey URL (put them in the URL)",
    );
    if (password === undefined) return url;
    // The password from the environment goes where the URL keeps one.
    const withScheme = url.replace(/^valkey(s?):\/\//, "redis$1://");
    let parsed: URL;
    try {
      parsed = new URL(withScheme);
    } catch {
      return url; // the store's own check names what is wrong with it
    }
    if (parsed.password !== "") {
      throw new UsageError(
        `the URL has a password and ${PASSWORD_ENV} is set: give only one`,
      );
    }
    parsed.password = encodeURIComponent(password);
    return parsed.href;
  }
  if (sentinel !== undefined) {
    const name = text(flags, "name");
    if (name === undefined || name === "") {
      throw new UsageError(
        "--sentinel needs --name NAME (the primary's name in the Sentinels' configuration)",
      );
    }
    const dbText = text(flags, "db");
    if (dbText !== undefined && !/^(0|[1-9][0-9]{0,8})$/.test(dbText)) {
      throw new UsageError(
        `--db takes a database index (0, 1, ...), got ${
          JSON.stringify(dbText)
        }`,
      );
    }
    const sentinelPassword = env(SENTINEL_PASSWORD_ENV) || undefined;
    return {
      sentinels: addresses(sentinel, "--sentinel"),
      name,
      ...(username === undefined ? {} : { username }),
      ...(password === undefined ? {} : { password }),
      ...(sentinelPassword === undefined ? {} : { sentinelPassword }),
      ...(dbText === undefined ? {} : { db: Number(dbText) }),
      ...(tls ? { tls } : {}),
    };
  }
  if (cluster !== undefined) {
    onlyWith(flags, ["name", "db"], "--cluster");
    return {
      cluster: addresses(cluster, "--cluster"),
      ...(username === undefined ? {} : { username }),
      ...(password === undefined ? {} : { password }),
      ...(tls ? { tls } : {}),
    };
  }
  return undefined;
}
