/**
 * A throw-away `valkey-server` for tests: its own process on a free loopback
 * port, no persistence, stopped by its process id.
 *
 * Tests that need it register with `ignore: !(await hasValkeyServer())`, so a
 * machine without `valkey-server` shows them as ignored instead of failing.
 * Set `VALKEY_SERVER` to use a binary that is not on the `PATH`.
 */

/** The binary to run. */
export function valkeyBinary(): string {
  try {
    return Deno.env.get("VALKEY_SERVER") || "valkey-server";
  } catch {
    return "valkey-server"; // no --allow-env
  }
}

/** How long a server may take to accept connections before we give up. */
const START_TIMEOUT_MS = 5_000;

/** A running test server. */
export interface ValkeyServer {
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  /** The loopback port it listens on (kept across `restart()`). */
  readonly port: number;
  /** The process id of the current server process. */
  readonly pid: number;
  /**
   * Stops the server (SIGTERM to its process id) and waits for it to exit.
   * Idempotent.
   */
  stop(): Promise<void>;
  /** Stops the server if it runs, then starts a new one on the same port. */
  restart(): Promise<void>;
}

let availability: Promise<boolean> | undefined;

/** Whether `valkey-server --version` runs on this machine (cached). */
export function hasValkeyServer(): Promise<boolean> {
  availability ??= (async () => {
    try {
      const { success } = await new Deno.Command(valkeyBinary(), {
        args: ["--version"],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).output();
      return success;
    } catch {
      return false;
    }
  })();
  return availability;
}

/** A loopback port nobody listens on right now. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    return (listener.addr as Deno.NetAddr).port;
  } finally {
    listener.close();
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One server process and its exit status. */
interface Running {
  readonly child: Deno.ChildProcess;
  readonly status: Promise<Deno.CommandStatus>;
  exited: boolean;
}

function spawn(port: number): Running {
  const child = new Deno.Command(valkeyBinary(), {
    args: [
      "--bind",
      "127.0.0.1",
      "--port",
      String(port),
      "--save",
      "",
      "--appendonly",
      "no",
      "--daemonize",
      "no",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const running: Running = {
    child,
    status: child.status,
    exited: false,
  };
  running.status.then(() => (running.exited = true), () => {});
  return running;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Asks whoever listens on `port` for `INFO server` over a raw connection and
 * returns its `process_id`, or `undefined` when nothing answers yet.
 */
export async function serverPid(port: number): Promise<number | undefined> {
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
  } catch {
    return undefined; // not listening yet
  }
  try {
    await conn.write(encoder.encode("*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n"));
    let text = "";
    const buffer = new Uint8Array(16_384);
    const deadline = Date.now() + 1_000;
    while (Date.now() < deadline) {
      const read = await conn.read(buffer);
      if (read === null) return undefined;
      text += decoder.decode(buffer.subarray(0, read));
      if (text.startsWith("-")) return undefined; // e.g. -LOADING
      const match = /process_id:(\d+)\r\n/.exec(text);
      if (match) return Number(match[1]);
    }
    return undefined;
  } catch {
    return undefined;
  } finally {
    conn.close();
  }
}

/**
 * Waits until the process `running` accepts connections on `port` and says
 * it is itself (not another process that took the port). Resolves false when
 * it exited first (e.g. the port was taken); throws after the timeout.
 */
async function waitReady(running: Running, port: number): Promise<boolean> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (running.exited) return false;
    const pid = await serverPid(port);
    if (pid === running.child.pid) return true;
    if (running.exited) return false;
    await pause(pid === undefined ? 5 : 20);
  }
  await kill(running);
  throw new Error(
    `valkey-server on port ${port} did not accept connections within ${START_TIMEOUT_MS} ms`,
  );
}

async function kill(running: Running): Promise<void> {
  if (!running.exited) {
    try {
      Deno.kill(running.child.pid, "SIGTERM");
    } catch {
      // already gone
    }
  }
  await running.status;
}

/**
 * Starts a `valkey-server` on a free loopback port and waits until it accepts
 * connections (at most 5 s, then throws). Stop it with `stop()`.
 */
export async function startValkeyServer(): Promise<ValkeyServer> {
  let port = 0;
  let running: Running | undefined;
  for (let attempt = 0; running === undefined; attempt++) {
    port = freePort();
    const candidate = spawn(port);
    if (await waitReady(candidate, port)) {
      running = candidate;
    } else {
      await kill(candidate);
      // Another process took the port between our probe and the bind.
      if (attempt >= 4) {
        throw new Error("valkey-server could not bind a free loopback port");
      }
    }
  }
  let current: Running = running;
  let stopping: Promise<void> | undefined;

  const stop = (): Promise<void> => {
    stopping ??= kill(current);
    return stopping;
  };
  const restart = async (): Promise<void> => {
    await stop();
    for (let attempt = 0;; attempt++) {
      const next = spawn(port);
      if (await waitReady(next, port)) {
        current = next;
        stopping = undefined;
        return;
      }
      await kill(next);
      if (attempt >= 20) {
        throw new Error(`valkey-server could not bind port ${port} again`);
      }
      await pause(50); // the old socket may still be closing
    }
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get pid() {
      return current.child.pid;
    },
    stop,
    restart,
  };
}

/**
 * Runs `body` with a fresh server that is always stopped afterwards.
 */
export async function withValkeyServer<T>(
  body: (server: ValkeyServer) => Promise<T>,
): Promise<T> {
  const server = await startValkeyServer();
  try {
    return await body(server);
  } finally {
    await server.stop();
  }
}
