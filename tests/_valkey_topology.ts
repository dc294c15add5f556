/**
 * Throw-away Valkey topologies for tests, on free loopback ports, each
 * process stopped by its id: a Cluster of 3 primaries with a replica each
 * (`valkey-cli --cluster create`), and a primary with a replica watched by
 * 3 Sentinels (`valkey-server <conf> --sentinel`). No persistence; the
 * configuration files live in a temporary folder removed at the end.
 */
import {
  freePort,
  hasValkeyServer,
  serverPid,
  valkeyBinary,
} from "./_valkey_server.ts";

/** Whether `valkey-server` and `valkey-cli` both run here (cached). */
export function hasValkeyTopologies(): Promise<boolean> {
  topologies ??= (async () => {
    if (!(await hasValkeyServer())) return false;
    try {
      const { success } = await new Deno.Command("valkey-cli", {
        args: ["--version"],
        stdout: "null",
        stderr: "null",
      }).output();
      return success;
    } catch {
      return false;
    }
  })();
  return topologies;
}
let topologies: Promise<boolean> | undefined;

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One `valkey-server` process of a topology. */
export class TopologyNode {
  readonly port: number;
  readonly #child: Deno.ChildProcess;
  readonly #status: Promise<Deno.CommandStatus>;
  #exited = false;

  private constructor(port: number, child: Deno.ChildProcess) {
    this.port = port;
    this.#child = child;
    this.#status = child.status;
    this.#status.then(() => (this.#exited = true), () => {});
  }

  /** Starts `valkey-server` with `args` and waits until it answers. */
  static async start(
    port: number,
    args: readonly string[],
  ): Promise<TopologyNode> {
    const child = new Deno.Command(valkeyBinary(), {
      args: [...args],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const node = new TopologyNode(port, child);
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (node.#exited) break;
      if ((await serverPid(port)) === child.pid) return node;
      await pause(20);
    }
    await node.kill("SIGKILL");
    throw new Error(`valkey-server on port ${port} did not start`);
  }

  get pid(): number {
    return this.#child.pid;
  }

  /** Sends `signal` to the process (by id) and waits for its exit. */
  async kill(signal: Deno.Signal = "SIGTERM"): Promise<void> {
    if (!this.#exited) {
      try {
        Deno.kill(this.#child.pid, signal);
      } catch {
        // already gone
      }
    }
    await this.#status;
  }

  /** Runs `valkey-cli` against this node; its output, trimmed. */
  cli(...args: string[]): Promise<string> {
    return cli(this.port, ...args);
  }
}

/** Runs `valkey-cli -p <port> <args>`; throws on failure. */
export async function cli(port: number, ...args: string[]): Promise<string> {
  const { success, stdout, stderr } = await new Deno.Command("valkey-cli", {
    args: ["-h", "127.0.0.1", "-p", String(port), ...args],
    stdin: "null",
  }).output();
  const text = new TextDecoder().decode(stdout).trim();
  if (!success) {
    throw new Error(
      `valkey-cli ${args.join(" ")}: ${new TextDecoder().decode(stderr)}`,
    );
  }
  return text;
}

/** Polls `check` every 100 ms until it holds; throws after `ms`. */
export async function until(
  what: string,
  check: () => Promise<boolean>,
  ms = 20_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    await pause(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

const DATA_ARGS = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];

/** A Cluster of 3 primaries with one replica each. */
export interface TestCluster {
  readonly nodes: readonly TopologyNode[];
  /** Startup nodes for a `{ cluster }` connection. */
  readonly startup: { host: string; port: number }[];
  /** The node serving `key`'s slot as primary, and its replica. */
  roles(key: string): Promise<{ primary: TopologyNode; replica: TopologyNode }>;
  /**
   * Starts a stopped node again on its port with its cluster configuration
   * file: it rejoins the Cluster (a failed-over primary as a replica).
   */
  restart(node: TopologyNode): Promise<TopologyNode>;
  stop(): Promise<void>;
}

/** Starts a 6-node Cluster and waits until every slot is served. */
export async function startCluster(): Promise<TestCluster> {
  const dir = await Deno.makeTempDir({ prefix: "valkey-cluster-" });
  const nodes: TopologyNode[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.kill("SIGKILL")));
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    const args = (port: number) => [
      ...DATA_ARGS,
      "--port",
      String(port),
      "--dir",
      dir,
      "--cluster-enabled",
      "yes",
      "--cluster-config-file",
      `nodes-${port}.conf`,
      "--cluster-node-timeout",
      "1000",
    ];
    for (let i = 0; i < 6; i++) {
      const port = freePort();
      nodes.push(await TopologyNode.start(port, args(port)));
    }
    await new Deno.Command("valkey-cli", {
      args: [
        "--cluster",
        "create",
        ...nodes.map((node) => `127.0.0.1:${node.port}`),
        "--cluster-replicas",
        "1",
        "--cluster-yes",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
    await until("the cluster to serve every slot", async () => {
      for (const node of nodes) {
        const info = await node.cli("CLUSTER", "INFO");
        if (!/cluster_state:ok/.test(info)) return false;
      }
      const shards = JSON.parse(
        await nodes[0].cli("--json", "CLUSTER", "SLOTS"),
      ) as unknown[][];
      if (shards.length < 3 || shards.some((shard) => shard.length < 4)) {
        return false;
      }
      for (const node of nodes) {
        const replication = await node.cli("INFO", "replication");
        if (
          /role:slave/.test(replication) &&
          !/master_link_status:up/.test(replication)
        ) return false;
      }
      return true;
    });
    const byPort = new Map(nodes.map((node) => [node.port, node]));
    return {
      nodes,
      startup: nodes.slice(0, 3).map((node) => ({
        host: "127.0.0.1",
        port: node.port,
      })),
      async roles(key) {
        const slot = Number(await nodes[0].cli("CLUSTER", "KEYSLOT", key));
        const shards = JSON.parse(
          await nodes[0].cli("--json", "CLUSTER", "SLOTS"),
        ) as [number, number, ...[string, number, string][]][];
        for (const [from, to, primary, replica] of shards) {
          if (slot >= from && slot <= to) {
            return {
              primary: byPort.get(primary[1])!,
              replica: byPort.get(replica[1])!,
            };
          }
        }
        throw new Error(`no node serves slot ${slot}`);
      },
      async restart(node) {
        await node.kill("SIGKILL");
        const again = await TopologyNode.start(node.port, args(node.port));
        nodes.push(again);
        byPort.set(node.port, again);
        return again;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A primary with a replica, watched by 3 Sentinels. */
export interface TestSentinelSet {
  readonly name: string;
  readonly sentinels: { host: string; port: number }[];
  readonly data: readonly TopologyNode[];
  /** The data node the Sentinels name as primary now. */
  primary(): Promise<TopologyNode>;
  stop(): Promise<void>;
}

/**
 * Starts a primary, its replica and 3 Sentinels (quorum 2, a node is down
 * after 1 s), and waits until the Sentinels know the replica and each other.
 */
export async function startSentinelSet(): Promise<TestSentinelSet> {
  const dir = await Deno.makeTempDir({ prefix: "valkey-sentinel-" });
  const name = "scheduler-test";
  const processes: TopologyNode[] = [];
  const stop = async () => {
    await Promise.all(processes.map((node) => node.kill("SIGKILL")));
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    const primaryPort = freePort();
    const primary = await TopologyNode.start(primaryPort, [
      ...DATA_ARGS,
      "--port",
      String(primaryPort),
      "--dir",
      dir,
    ]);
    processes.push(primary);
    const replicaPort = freePort();
    const replica = await TopologyNode.start(replicaPort, [
      ...DATA_ARGS,
      "--port",
      String(replicaPort),
      "--dir",
      dir,
      "--replicaof",
      "127.0.0.1",
      String(primaryPort),
    ]);
    processes.push(replica);
    await until(
      "the replica to sync",
      async () =>
        /master_link_status:up/.test(await replica.cli("INFO", "replication")),
    );
    const sentinels: TopologyNode[] = [];
    for (let i = 0; i < 3; i++) {
      const port = freePort();
      const conf = `${dir}/sentinel-${port}.conf`;
      await Deno.writeTextFile(
        conf,
        [
          `port ${port}`,
          "bind 127.0.0.1",
          `dir ${dir}`,
          `sentinel monitor ${name} 127.0.0.1 ${primaryPort} 2`,
          `sentinel down-after-milliseconds ${name} 1000`,
          `sentinel failover-timeout ${name} 6000`,
          `sentinel parallel-syncs ${name} 1`,
          "",
        ].join("\n"),
      );
      const sentinel = await TopologyNode.start(port, [conf, "--sentinel"]);
      processes.push(sentinel);
      sentinels.push(sentinel);
    }
    await until(
      "the Sentinels to know the replica and each other",
      async () => {
        for (const sentinel of sentinels) {
          const replicas = await sentinel.cli("SENTINEL", "REPLICAS", name);
          const peers = await sentinel.cli("SENTINEL", "SENTINELS", name);
          if (!replicas.includes(String(replicaPort))) return false;
          if ((peers.match(/^runid$/gm) ?? []).length < 2) return false;
        }
        return true;
      },
    );
    const data = [primary, replica];
    return {
      name,
      sentinels: sentinels.map((s) => ({ host: "127.0.0.1", port: s.port })),
      data,
      async primary() {
        const address = await sentinels[0].cli(
          "SENTINEL",
          "GET-MASTER-ADDR-BY-NAME",
          name,
        );
        const port = Number(address.split("\n")[1]);
        return data.find((node) => node.port === port)!;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
