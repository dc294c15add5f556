/**
 * The peer libraries: installed with npm into `bench/compare/.peers/` (from
 * `peers.json`, exact versions) and loaded into this Deno process with
 * `createRequire`, so every library runs on the same runtime and V8 as ours
 * while none of them enters the library's `deno.json` or `deno.lock`.
 */
import { createRequire } from "node:module";

/** Where the peers are installed; gitignored. */
export const PEERS_DIR = new URL("./.peers/", import.meta.url);

/** Package names as `peers.json` lists them. */
export type PeerName =
  | "bullmq"
  | "cron"
  | "cron-parser"
  | "croner"
  | "ioredis"
  | "node-cron"
  | "toad-scheduler";

/**
 * Writes `.peers/package.json` and `package-lock.json` from `peers.json` and
 * `peers.lock.json` and runs `npm ci` there, so every run measures the same
 * dependency tree (no lifecycle scripts: the only one is an optional native
 * msgpack build).
 */
export async function installPeers(): Promise<void> {
  await Deno.mkdir(PEERS_DIR, { recursive: true });
  await Deno.copyFile(
    new URL("./peers.json", import.meta.url),
    new URL("package.json", PEERS_DIR),
  );
  await Deno.copyFile(
    new URL("./peers.lock.json", import.meta.url),
    new URL("package-lock.json", PEERS_DIR),
  );
  const output = await new Deno.Command("npm", {
    args: ["ci", "--no-audit", "--no-fund", "--ignore-scripts"],
    cwd: PEERS_DIR.pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(
      `npm install in ${PEERS_DIR.pathname} failed:\n${
        new TextDecoder().decode(output.stderr)
      }`,
    );
  }
}

const requirePeer = createRequire(new URL("package.json", PEERS_DIR));

/** Loads an installed peer (its CommonJS build). */
// deno-lint-ignore no-explicit-any
export function peer(name: PeerName): any {
  return requirePeer(name);
}

/** The installed version of a peer, read from its package.json. */
export function peerVersion(name: PeerName): string {
  // Read from disk: some packages' "exports" hide their package.json.
  const path = new URL(`node_modules/${name}/package.json`, PEERS_DIR);
  return JSON.parse(Deno.readTextFileSync(path)).version;
}

/**
 * Whether npm knows a package at all: `npm view` exits non-zero with E404
 * for a name that is not published. Returns the version or the npm error.
 */
export async function npmView(
  name: string,
): Promise<{ version: string } | { error: string }> {
  const output = await new Deno.Command("npm", {
    args: ["view", name, "version"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(
    output.success ? output.stdout : output.stderr,
  ).trim();
  if (output.success && text) return { version: text };
  const code = /npm error code (\S+)/.exec(text)?.[1] ?? "failed";
  return { error: code };
}
