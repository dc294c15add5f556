/**
 * A lost reply, for real: a TCP proxy on a free loopback port between a
 * client and a test server that forwards everything, except that once it
 * has seen a chosen script go to the server (by its SHA1, as `EVALSHA`
 * sends it, or by its text, as `EVAL` does) and the server has run it, it
 * drops the reply and cuts the connection: the script ran, its answer
 * never arrives, and the client's retry goes through a new connection,
 * forwarded as usual.
 */

/** The proxy. */
export interface CutProxy {
  /** `redis://127.0.0.1:<proxy port>`. */
  readonly url: string;
  /** How many replies were dropped with their connection. */
  readonly cuts: number;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

/** What the proxy cuts. */
export interface CutOptions {
  /** The server's port. */
  readonly target: number;
  /** The script whose reply is dropped (its SHA1 and its text are looked for). */
  readonly script: string;
  /**
   * Whether the server has run the script, asked on another connection
   * (the lease key it writes exists, say); asked for each reply that
   * comes back on the connection that sent the script, and only a reply
   * that comes after the script ran is dropped.
   */
  readonly ran: () => Promise<boolean>;
  /** How many replies to drop (default 1). */
  readonly times?: number;
}

async function sha1(text: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-1",
    new TextEncoder().encode(text),
  );
  return [...new Uint8Array(digest)]
    .map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Starts a proxy to `options.target` that cuts as `options` says. */
export async function startCutProxy(options: CutOptions): Promise<CutProxy> {
  const needles = [await sha1(options.script), options.script.slice(0, 200)];
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const open = new Set<Deno.Conn>();
  const pumps: Promise<void>[] = [];
  let cuts = 0;
  const closeBoth = (a: Deno.Conn, b: Deno.Conn) => {
    for (const conn of [a, b]) {
      if (!open.delete(conn)) continue;
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
  };
  const serve = async (client: Deno.Conn) => {
    let server: Deno.Conn;
    try {
      server = await Deno.connect({
        hostname: "127.0.0.1",
        port: options.target,
      });
    } catch {
      client.close();
      return;
    }
    open.add(client);
    open.add(server);
    // Set when this connection carried the script: each reply is then
    // checked against whether the script ran.
    let watching = false;
    let cut = false;
    let seen = "";
    const decoder = new TextDecoder();
    const up = async () => {
      try {
        for await (const chunk of client.readable) {
          if (cut) break;
          if (!watching && cuts < (options.times ?? 1)) {
            // A needle may straddle two chunks: keep the tail of the last.
            seen = seen.slice(-256) + decoder.decode(chunk, { stream: true });
            watching = needles.some((needle) => seen.includes(needle));
          }
          await server.write(chunk);
        }
      } catch {
        // closed by the cut or by the client
      }
      closeBoth(client, server);
    };
    const down = async () => {
      try {
        for await (const chunk of server.readable) {
          if (watching && cuts < (options.times ?? 1) && await options.ran()) {
            cuts++;
            cut = true;
            break; // the reply is dropped with the connection
          }
          await client.write(chunk);
        }
      } catch {
        // closed by the cut or by the server
      }
      closeBoth(client, server);
    };
    await Promise.all([up(), down()]);
  };
  const accepting = (async () => {
    try {
      for await (const client of listener) pumps.push(serve(client));
    } catch {
      // listener closed
    }
  })();
  return {
    url: `redis://127.0.0.1:${port}`,
    get cuts() {
      return cuts;
    },
    async close() {
      listener.close();
      for (const conn of [...open]) {
        open.delete(conn);
        try {
          conn.close();
        } catch {
          // already closed
        }
      }
      await accepting;
      await Promise.allSettled(pumps);
    },
  };
}
