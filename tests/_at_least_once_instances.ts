/**
 * Instances of `fixtures/at_least_once_instance.ts` as real processes, their
 * stdout read line by line as it comes (so a test can SIGKILL one at a
 * chosen line), and the ledger of runs they printed.
 */
import { denoRun } from "./_processes.ts";
import { hasValkeyServer, withValkeyServer } from "./_valkey_server.ts";

const INSTANCE = new URL(
  "./fixtures/at_least_once_instance.ts",
  import.meta.url,
);

export interface Finished {
  code: number;
  signal: Deno.Signal | null;
  lines: string[];
  stderr: string;
  killed: boolean;
}

/** Starts an instance; `onLine` sees each stdout line as it comes. */
export function spawnInstance(
  args: string[],
  onLine: (line: string, child: Deno.ChildProcess) => void,
  started?: (child: Deno.ChildProcess) => void,
): Promise<Finished> {
  const child = denoRun(INSTANCE, args).spawn();
  started?.(child);
  const lines: string[] = [];
  const reading = (async () => {
    let buffer = "";
    const decoder = new TextDecoder();
    for await (const chunk of child.stdout) {
      buffer += decoder.decode(chunk, { stream: true });
      let newline: number;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        lines.push(line);
        onLine(line, child);
      }
    }
  })();
  const stderr = new Response(child.stderr).text();
  return (async () => {
    const status = await child.status;
    await reading;
    return {
      code: status.code,
      signal: status.signal,
      lines,
      stderr: await stderr,
      killed: status.signal === "SIGKILL",
    };
  })();
}

/** One run of an occurrence, as an instance printed it. */
export interface LedgerRun {
  readonly token: bigint;
  readonly replayed: boolean;
  /** Epoch ms at which the task started. */
  readonly at: number;
  /** Which instance ran it (index in `results`). */
  readonly instance: number;
}

/** The runs of every occurrence, from the instances' `ran` lines. */
export function ledgerOf(
  results: readonly Finished[],
): Map<number, LedgerRun[]> {
  const runs = new Map<number, LedgerRun[]>();
  results.forEach((result, instance) => {
    for (const line of result.lines) {
      if (!line.startsWith("ran ")) continue;
      const [, at, token, replayed, now] = line.split(" ");
      const list = runs.get(Number(at)) ?? [];
      list.push({
        token: BigInt(token),
        replayed: replayed === "true",
        at: Number(now),
        instance,
      });
      runs.set(Number(at), list);
    }
  });
  for (const list of runs.values()) list.sort((a, b) => a.at - b.at);
  return runs;
}

/** Prints the ledger a test checks, one occurrence a line. */
export function printLedger(
  title: string,
  runs: Map<number, LedgerRun[]>,
  origin: number,
): void {
  console.log(`ledger: ${title}`);
  for (const [instant, list] of [...runs].sort((a, b) => a[0] - b[0])) {
    const described = list.map((run) =>
      `instance ${run.instance} token ${run.token}${
        run.replayed ? " replayed" : ""
      } started T+${run.at - origin} ms`
    ).join("; ");
    console.log(`  T+${instant - origin} ms: ${described}`);
  }
}

/**
 * Registers `scenario` once on each shared backend: a fresh `valkey-server`
 * (ignored where there is none) and a Deno KV file in a temporary folder.
 * `name` turns the backend's name into the test's name.
 */
export async function testOnBothBackends(
  name: (backend: "Valkey" | "Deno KV") => string,
  scenario: (backend: "valkey" | "kv", where: string) => Promise<void>,
): Promise<void> {
  Deno.test({
    name: name("Valkey"),
    ignore: !(await hasValkeyServer()),
    fn: () => withValkeyServer((server) => scenario("valkey", server.url)),
  });
  Deno.test(name("Deno KV"), async () => {
    const dir = await Deno.makeTempDir();
    try {
      await scenario("kv", `${dir}/shared.kv`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
