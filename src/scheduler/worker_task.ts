/**
 * Runs a worker task: one module Web Worker per run, hosting the user's
 * module through `_worker_host.ts`, with panics told apart from failures.
 *
 * The host reports over a private `MessageChannel`, so whatever the user's
 * code posts on the worker's own channel can neither end the run nor crash
 * the scheduler.
 *
 * @module
 */

import { TaskJoinErrorKind } from "../constants.ts";
import { TaskJoinError } from "../errors.ts";
import type { TaskContext } from "./task.ts";

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

const HOST = new URL("./_worker_host.ts", import.meta.url);

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
  const { module, exportName, context } = options;
  const { signal } = context;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const worker = new Worker(HOST, { type: "module" });
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
    signal.addEventListener("abort", onAbort, { once: true });
    channel.port1.onmessage = (event: MessageEvent<unknown>) => {
      const message = event.data;
      if (!isHostMessage(message)) return;
      if (message.kind === "ok") finish(resolve);
      else if (message.kind === "error") {
        finish(() => reject(new Error(message.message)));
      } else panic(message.message);
    };
    // Messages the user's code posts on the worker's own channel are not
    // ours to interpret.
    worker.onmessage = () => {};
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      panic(`the worker crashed: ${event.message}`, event.error);
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
