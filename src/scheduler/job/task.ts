/**
 * What a job runs (its context is in `task_context.ts`).
 *
 * Runtime-neutral: worker tasks use module Web Workers (Deno, Bun) or
 * `node:worker_threads` (Node).
 *
 * @module
 */

import { InvalidJobKind, TaskJoinErrorKind } from "../../constants.ts";
import {
  describeThrown,
  describeValue,
  InvalidJobError,
  TaskJoinError,
} from "../../errors.ts";
import { checkOptions } from "../../_options.ts";
import { workerUnsupportedReason } from "./_worker_support.ts";
import type { TaskContext } from "./task_context.ts";

type TaskBody<D> = (context: TaskContext<D>) => Promise<void>;

// The worker machinery loads when a worker task first runs (the run is
// async anyway) and is called directly from then on.
let workerTasks: typeof import("./_worker_task.ts") | undefined;

async function loadWorkerTasks(): Promise<typeof import("./_worker_task.ts")> {
  try {
    workerTasks ??= await import("./_worker_task.ts");
  } catch (error) {
    // As a worker that cannot start: the run is a panic, not a failure.
    throw new TaskJoinError(
      `worker task: the worker machinery failed to load (${
        describeThrown(error)
      })`,
      { kind: TaskJoinErrorKind.Panic, cause: error },
    );
  }
  return workerTasks;
}

let invokeTask: <D>(task: Task<D>, context: TaskContext<D>) => Promise<void>;

function requireFunction(fn: unknown, constructor: string): void {
  if (typeof fn !== "function") {
    throw new InvalidJobError(
      `Task.${constructor} needs a function, got ${describeValue(fn)}`,
      { kind: InvalidJobKind.Other },
    );
  }
}

/**
 * The work a job does on each run. A task that resolves is a `success`; one
 * that throws or rejects is `failed` (the scheduler goes on); one that
 * rejects after its signal was aborted is `cancelled`.
 *
 * @example
 * ```ts
 * import { Task } from "@cloudiful/scheduler";
 * const task = Task.fromAsync<{ label: string }>(async ({ run, deps }) => {
 *   console.log(deps.label, run.scheduledAt.toISOString());
 * });
 * ```
 */
export class Task<D = undefined> {
  readonly #body: TaskBody<D>;
  /** How the task runs: `async`, `sync` or `worker`. */
  readonly kind: "async" | "sync" | "worker";

  static {
    invokeTask = (task, context) => task.#body(context);
  }

  private constructor(kind: Task["kind"], body: TaskBody<D>) {
    this.kind = kind;
    this.#body = body;
  }

  /**
   * A task from an async function.
   *
   * @param fn Called once per run with the run's context.
   * @throws {InvalidJobError} kind `other` when `fn` is not a function.
   *
   * @example
   * ```ts
   * import { Task } from "@cloudiful/scheduler";
   * const task = Task.fromAsync(async ({ signal }) => {
   *   if (signal.aborted) return;
   * });
   * console.log(task.kind); // async
   * ```
   */
  static fromAsync<D>(fn: (ctx: TaskContext<D>) => Promise<void>): Task<D> {
    requireFunction(fn, "fromAsync");
    // The engine awaits whatever fn returns; no extra wrapper promise.
    return new Task<D>("async", fn);
  }

  /**
   * A task from a synchronous function. It runs inline on the event loop, so
   * keep it cheap; a function that returns a promise anyway is awaited.
   *
   * @param fn Called once per run with the run's context.
   * @throws {InvalidJobError} kind `other` when `fn` is not a function.
   *
   * @example
   * ```ts
   * import { Task } from "@cloudiful/scheduler";
   * const task = Task.fromSync(({ run }) => console.log(run.triggerCount));
   * console.log(task.kind); // sync
   * ```
   */
  static fromSync<D>(fn: (ctx: TaskContext<D>) => void): Task<D> {
    requireFunction(fn, "fromSync");
    return new Task<D>("sync", (context) => {
      try {
        return Promise.resolve(fn(context)).then(() => {});
      } catch (error) {
        return Promise.reject(error);
      }
    });
  }

  /**
   * A task that runs a module's export in a worker, off the main event loop:
   * a module Web Worker on Deno and Bun, a `node:worker_threads` Worker on
   * Node ≥ 20. The export (the default export unless `exportName`) is called
   * with a structured clone of `{ run, deps }` and a `signal`. On Node the
   * module must be ES module JavaScript (`.mjs`, or `.js` under
   * `"type": "module"`); Bun and Deno also load TypeScript.
   *
   * A worker that fails to load, throws an uncaught error, or exits (for
   * example by calling `self.close()`) before its export settles is a
   * *panic*: `run()` rejects with `TaskJoinError` kind `panic` once the other
   * runs have settled (a worker that calls `process.exit()` on Node or Bun,
   * or `Deno.exit()`, counts as exiting). `cancel()` terminates the worker (the `signal` the
   * export receives inside the worker never aborts: termination is the
   * cancellation), and the run is recorded `cancelled` at once. Deno 2.9
   * cannot stop a worker stuck in code that never yields (`terminate()` does
   * not interrupt it): such a worker goes on in the background after `run()`
   * resolved and the lease was released, and its side effects land late.
   * Keep worker code yielding, or check fencing tokens in your sinks.
   *
   * @param module The module's URL or absolute file path (resolve relative
   * paths with `new URL("./work.ts", import.meta.url)`).
   * @param options `exportName`: the export to call.
   * @throws {InvalidJobError} kind `other` for an unusable module specifier,
   * or in a runtime with neither a `Worker` global nor Node's
   * `worker_threads` (the message names the runtime).
   *
   * @example
   * ```ts ignore
   * import { Task } from "@cloudiful/scheduler";
   * const task = Task.fromWorker(new URL("./report_worker.ts", import.meta.url), {
   *   exportName: "buildReport",
   * });
   * ```
   */
  static fromWorker<D>(
    module: string | URL,
    options: { exportName?: string } = {},
  ): Task<D> {
    const unsupported = workerUnsupportedReason();
    if (unsupported !== undefined) {
      throw new InvalidJobError(
        `Task.fromWorker cannot run worker tasks: ${unsupported}`,
        { kind: InvalidJobKind.Other },
      );
    }
    checkOptions(options, {
      what: "Task.fromWorker options",
      known: ["exportName"],
    });
    let url: URL;
    try {
      url = module instanceof URL
        ? module
        : typeof module === "string" && module.startsWith("/")
        ? new URL(`file://${encodeURI(module)}`)
        : new URL(module);
    } catch {
      throw new InvalidJobError(
        `Task.fromWorker needs an absolute module URL, got ${
          describeValue(module)
        } (use new URL("./module.ts", import.meta.url))`,
        { kind: InvalidJobKind.Other },
      );
    }
    const exportName = options.exportName ?? "default";
    if (typeof exportName !== "string" || exportName === "") {
      throw new InvalidJobError(
        `Task.fromWorker exportName must be a non-empty string, got ${
          describeValue(options.exportName)
        }`,
        { kind: InvalidJobKind.Other },
      );
    }
    const href = url.href;
    return new Task<D>("worker", (context) => {
      const options = { module: href, exportName, context };
      return workerTasks === undefined
        ? loadWorkerTasks().then((loaded) => loaded.runWorkerTask(options))
        : workerTasks.runWorkerTask(options);
    });
  }
}

/** Runs a task once with a context (the engine's entry point). */
export function runTask<D>(
  task: Task<D>,
  context: TaskContext<D>,
): Promise<void> {
  return invokeTask(task, context);
}
