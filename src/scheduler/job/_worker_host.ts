/**
 * The script every worker task runs in: loads the user's module, calls its
 * export with `{ run, deps, signal }`, and reports back. Leaving the worker
 * before the export settles (`self.close()`, `Deno.exit()`) is reported as a
 * panic, so the scheduler never waits for a worker that is gone. It runs as
 * a module Web Worker (Deno, Bun) or a `worker_threads` worker (Node).
 *
 * @module
 */

import { describeThrown } from "../../errors.ts";
import type { WorkerHostMessage, WorkerRequest } from "./_worker_task.ts";

interface WebWorkerScope {
  close?: () => void;
  postMessage?: unknown;
  onmessage: ((event: MessageEvent<WorkerRequest>) => void) | null;
}

interface NodeParentPort {
  on(event: "message", listener: (request: WorkerRequest) => void): void;
}

const scope = globalThis as unknown as WebWorkerScope;
let settled = false;
let port: MessagePort | undefined;

function report(message: WorkerHostMessage): void {
  settled = true;
  port?.postMessage(message);
}

function reportEarlyExit(how: string): void {
  if (!settled) {
    report({ kind: "panic", message: `${how} before the task settled` });
  }
}

// Bun's workers have no self.close(); Node's never run this file as a Web
// Worker. Where it exists, leaving through it is reported, not waited for.
const close = scope.close?.bind(scope);
if (close !== undefined) {
  scope.close = () => {
    reportEarlyExit("the worker closed itself (self.close())");
    close();
  };
}
// Deno gives no event when a worker exits; Node and Bun do (see
// _worker_spawn.ts), so only Deno.exit needs wrapping.
const deno = (globalThis as { Deno?: typeof Deno }).Deno;
if (deno !== undefined) {
  const exit = deno.exit.bind(deno);
  deno.exit = ((code?: number) => {
    reportEarlyExit(`the worker called Deno.exit(${code ?? ""})`);
    return exit(code);
  }) as typeof Deno.exit;
}

async function start(request: WorkerRequest): Promise<void> {
  const { module, exportName, run, deps } = request;
  port = request.report;
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
}

// The request handler stays installed after the one request: a worker with a
// message handler lives until it is terminated, so a task waiting on nothing
// behaves on Node and Bun as on Deno (it runs until it settles or is
// cancelled) instead of ending with an idle event loop.
let started = false;
const receive = (request: WorkerRequest) => {
  if (started) return;
  started = true;
  void start(request);
};
if (typeof scope.postMessage === "function" && "onmessage" in scope) {
  scope.onmessage = (event) => receive(event.data);
} else {
  const threads = await import("node:worker_threads");
  (threads.parentPort as unknown as NodeParentPort).on("message", receive);
}
