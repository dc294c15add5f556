/**
 * Runs a worker task: one worker per run (a module Web Worker on Deno and
 * Bun, a `worker_threads` Worker on Node), hosting the user's module through
 * `_worker_host.ts`, with panics told apart from failures.
 *
 * The host reports over a private `MessageChannel`, so whatever the user's
 * code posts on the worker's own channel can neither end the run nor crash
 * the scheduler.
 *
 * @module
 */

import { TaskJoinErrorKind } from "../../constants.ts";
import { describeThrown, TaskJoinError } from "../../errors.ts";
import type { TaskContext } from "./task_context.ts";
import {
  type SpawnWorker,
  workerHostUrl,
  workerSpawner,
} from "./_worker_spawn.ts";

/** A message from the worker host. */
export type WorkerHostMessage =
  | { kind: "ok" }
  | { kind: "error"; message: string }
  | { kind: "panic"; message: string };

/** What the worker host is asked to run, and where to report. */
export interface WorkerRequest {
  module: string;
  exportName: string;
  run: unknown;
  deps: unknown;
  report: MessagePort;
}

const HOST = workerHostUrl(import.meta.url);

function isHostMessage(value: unknown): value is WorkerHostMessage {
  const message = value as WorkerHostMessage | null;
  return typeof message === "object" && message !== null &&
    (message.kind === "ok" ||
      ((message.kind === "error" || message.kind === "panic") &&
        typeof message.message === "string"));
}

/**
 * Runs `exportName` of `module` in a fresh worker. Resolves when it resolves;
 * rejects with an `Error` carrying its message when it throws (a failure),
 * with a `TaskJoinError` kind `panic` when the worker cannot load, crashes or
 * exits early, and with the signal's reason when the signal aborts (the
 * worker is terminated).
 */
export function runWorkerTask<D>(options: {
  module: string;
  exportName: string;
  context: TaskContext<D>;
}): Promise<void> {
  const { signal } = options.context;
  if (signal.aborted) return Promise.reject(signal.reason);
  const spawner = workerSpawner();
  if (typeof spawner === "function") return runIn(spawner, options);
  return spawner.then(
    (spawn) => {
      if (signal.aborted) throw signal.reason;
      return runIn(spawn, options);
    },
    (error) => {
      throw new TaskJoinError(
        `worker task ${options.module}: this runtime cannot start a worker (${
          describeThrown(error)
        })`,
        { kind: TaskJoinErrorKind.Panic, cause: error },
      );
    },
  );
}

function runIn<D>(spawn: SpawnWorker, options: {
  module: string;
  exportName: string;
  context: TaskContext<D>;
}): Promise<void> {
  const { module, exportName, context } = options;
  const { signal } = context;
  return new Promise<void>((resolve, reject) => {
    const channel = new MessageChannel();
    let settled = false;
    const finish = (settle: () => void) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      channel.port1.close();
      worker.terminate();
      settle();
    };
    const panic = (message: string, cause?: unknown) =>
      finish(() =>
        reject(
          new TaskJoinError(`worker task ${module}: ${message}`, {
            kind: TaskJoinErrorKind.Panic,
            cause,
          }),
        )
      );
    const onAbort = () => finish(() => reject(signal.reason));
    const worker = spawn(HOST, {
      crashed: (message, error) =>
        panic(`the worker crashed: ${message}`, error),
      exited: (code) =>
        panic(
          `the worker exited${
            code === undefined ? "" : ` with code ${code}`
          } before the task settled`,
        ),
    });
    signal.addEventListener("abort", onAbort, { once: true });
    channel.port1.onmessage = (event: MessageEvent<unknown>) => {
      const message = event.data;
      if (!isHostMessage(message)) return;
      if (message.kind === "ok") finish(resolve);
      else if (message.kind === "error") {
        finish(() => reject(new Error(message.message)));
      } else panic(message.message);
    };
    const { run, deps } = context;
    try {
      worker.postMessage(
        {
          module,
          exportName,
          run,
          deps,
          report: channel.port2,
        } satisfies WorkerRequest,
        [channel.port2],
      );
    } catch (error) {
      panic(
        `its { run, deps } cannot be sent to a worker (structured clone failed: ${
          (error as Error).message
        })`,
        error,
      );
    }
  });
}
