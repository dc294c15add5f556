/**
 * Starts the worker host in this runtime's kind of worker: a module Web
 * Worker on Deno and Bun, a `node:worker_threads` Worker on Node (which has
 * no `Worker` global).
 *
 * @module
 */

import { describeThrown } from "../../errors.ts";

/** What the caller hears from a started worker. */
export interface WorkerHooks {
  /** An uncaught error ended (or will end) the worker. */
  crashed(message: string, error: unknown): void;
  /** The worker is gone, with an exit code when the runtime gives one. */
  exited(code: number | undefined): void;
}

/** A started worker, whatever the runtime. */
export interface HostWorker {
  postMessage(message: unknown, transfer: Transferable[]): void;
  terminate(): void;
}

/** Starts a worker running `host`. */
export type SpawnWorker = (host: URL, hooks: WorkerHooks) => HostWorker;

interface NodeWorkerThreads {
  Worker: new (url: URL) => {
    on(event: "error", listener: (error: unknown) => void): void;
    on(event: "exit", listener: (code: number) => void): void;
    postMessage(message: unknown, transfer: readonly unknown[]): void;
    terminate(): Promise<number>;
  };
}

/**
 * The host module next to this one. Deno (and JSR's Deno view) loads the
 * `.ts` sources; a build for Node or Bun (JSR's npm view) ships `.js` files,
 * and rewrites import specifiers but not URLs, so the extension follows
 * this module's own.
 */
export function workerHostUrl(base: string): URL {
  const extension = new URL(base).pathname.endsWith(".ts") ? "ts" : "js";
  return new URL(`./_worker_host.${extension}`, base);
}

/**
 * Bun puts a source excerpt before the error (`1 | code…\nerror: message\n
 * at …`); the message line alone is what a run record should keep.
 */
function errorEventMessage(message: string): string {
  if (!("Bun" in globalThis)) return message;
  return /^error: (.*)$/m.exec(message)?.[1] ?? message;
}

function spawnWebWorker(host: URL, hooks: WorkerHooks): HostWorker {
  const worker = new Worker(host, { type: "module" });
  // Messages the user's code posts on the worker's own channel are not ours
  // to interpret.
  worker.onmessage = () => {};
  worker.onerror = (event: ErrorEvent) => {
    event.preventDefault();
    hooks.crashed(errorEventMessage(event.message), event.error);
  };
  // Bun tells when a worker ends (`process.exit()` inside it); Deno does not
  // and is covered by the host's own exit hooks.
  worker.addEventListener("close", (event) => {
    const code = (event as Event & { code?: unknown }).code;
    hooks.exited(typeof code === "number" ? code : undefined);
  });
  return worker;
}

function nodeSpawner(threads: NodeWorkerThreads): SpawnWorker {
  return (host, hooks) => {
    const worker = new threads.Worker(host);
    worker.on("error", (error) => hooks.crashed(describeThrown(error), error));
    worker.on("exit", (code) => hooks.exited(code));
    return {
      postMessage: (message, transfer) => worker.postMessage(message, transfer),
      terminate: () => void worker.terminate().catch(() => {}),
    };
  };
}

let nodeSpawn: Promise<SpawnWorker> | undefined;

/**
 * The way to start a worker here: at once where `Worker` exists, after
 * loading `node:worker_threads` (once) on Node.
 */
export function workerSpawner(): SpawnWorker | Promise<SpawnWorker> {
  if (typeof Worker === "function") return spawnWebWorker;
  nodeSpawn ??= (import("node:worker_threads") as Promise<NodeWorkerThreads>)
    .then(nodeSpawner);
  return nodeSpawn;
}
