/**
 * The script every worker task runs in: loads the user's module, calls its
 * export with `{ run, deps, signal }`, and reports back. Leaving the worker
 * before the export settles (`self.close()`, `Deno.exit()`) is reported as a
 * panic, so the scheduler never waits for a worker that is gone.
 *
 * @module
 */

import { describeThrown } from "../errors.ts";
import type { WorkerHostMessage, WorkerRequest } from "./worker_task.ts";

interface WorkerScope {
  close(): void;
  onmessage: ((event: MessageEvent<WorkerRequest>) => void) | null;
}

const scope = globalThis as unknown as WorkerScope;
let settled = false;
let port: MessagePort | undefined;

function report(message: WorkerHostMessage): void {
  settled = true;
  port?.postMessage(message);
}

const close = scope.close.bind(scope);
scope.close = () => {
  if (!settled) {
    report({
      kind: "panic",
      message:
        "the worker closed itself (self.close()) before the task settled",
    });
  }
  close();
};
const exit = Deno.exit.bind(Deno);
Deno.exit = ((code?: number) => {
  if (!settled) {
    report({
      kind: "panic",
      message: `the worker called Deno.exit(${
        code ?? ""
      }) before the task settled`,
    });
  }
  return exit(code);
}) as typeof Deno.exit;

scope.onmessage = async (event) => {
  scope.onmessage = null;
  const { module, exportName, run, deps } = event.data;
  port = event.data.report;
  let fn: unknown;
  try {
    fn = (await import(module))[exportName];
  } catch (error) {
    report({
      kind: "panic",
      message: `the module failed to load: ${describeThrown(error)}`,
    });
    return;
  }
  if (typeof fn !== "function") {
    report({
      kind: "panic",
      message: `the module has no function export named ${
        JSON.stringify(exportName)
      }`,
    });
    return;
  }
  try {
    await fn({ run, deps, signal: new AbortController().signal });
    report({ kind: "ok" });
  } catch (error) {
    report({ kind: "error", message: describeThrown(error) });
  }
};
