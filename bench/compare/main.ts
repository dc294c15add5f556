/**
 * `deno task compare`: installs the peer libraries into bench/compare/.peers/
 * with `npm ci` (peers.json, peers.lock.json), measures them beside ours in
 * this Deno process (the 10 000-job figures in one child process per
 * library), and writes bench/RESULTS.md.
 *
 *   deno task compare [--only throughput,dst,lateness,far-future,valkey,many-jobs]
 *
 * Needs npm and the npm registry; the Valkey part needs valkey-server and is
 * reported as not measured without it.
 */
import { installPeers, npmView, peerVersion } from "./_peers.ts";
import { describeError, type Section } from "./_report.ts";
import { measureThroughput } from "./throughput.ts";
import { measureDst } from "./dst.ts";
import { measureLateness } from "./lateness.ts";
import { measureFarFuture } from "./far_future.ts";
import { measureValkey } from "./valkey.ts";
import { measureManyJobs } from "./many_jobs.ts";
import { measureFloors } from "./floors.ts";

const MEASUREMENTS: Record<string, () => Section | Promise<Section>> = {
  "throughput": measureThroughput,
  "dst": measureDst,
  "lateness": measureLateness,
  "far-future": measureFarFuture,
  "valkey": measureValkey,
  "many-jobs": measureManyJobs,
  "floors": measureFloors,
};

function selected(args: string[]): string[] {
  const index = args.indexOf("--only");
  if (index < 0) return Object.keys(MEASUREMENTS);
  const names = (args[index + 1] ?? "").split(",").filter(Boolean);
  for (const name of names) {
    if (!(name in MEASUREMENTS)) {
      throw new Error(
        `--only: unknown measurement ${JSON.stringify(name)}; known: ${
          Object.keys(MEASUREMENTS).join(", ")
        }`,
      );
    }
  }
  return names;
}

async function nodeVersion(): Promise<string> {
  try {
    const output = await new Deno.Command("node", { args: ["--version"] })
      .output();
    return new TextDecoder().decode(output.stdout).trim();
  } catch {
    return "not found";
  }
}

async function main(): Promise<void> {
  const names = selected(Deno.args);
  console.error("installing peers into bench/compare/.peers/ (npm ci) …");
  await installPeers();
  const coordinator = await npmView("@node-cron/redis-coordinator");
  const sections: Section[] = [];
  for (const name of names) {
    console.error(`measuring ${name} …`);
    const started = performance.now();
    try {
      sections.push(await MEASUREMENTS[name]());
    } catch (error) {
      sections.push({
        title: name,
        body: `Not measured: the measurement failed with \`${
          describeError(error)
        }\`.`,
      });
    }
    console.error(
      `  ${name}: ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
  }
  const peers = [
    "cron-parser",
    "croner",
    "node-cron",
    "cron",
    "toad-scheduler",
    "bullmq",
    "ioredis",
  ] as const;
  const header = [
    "# Comparison with other schedulers",
    "",
    `Written by \`deno task compare\` (bench/compare/main.ts) on ${
      new Date().toISOString()
    }; do not edit by hand.`,
    "",
    `- Deno ${Deno.version.deno} (V8 ${Deno.version.v8}), Node ${await nodeVersion()} (only npm runs on it), ${navigator.hardwareConcurrency} cores, ${Deno.build.os}/${Deno.build.arch}`,
    `- Peers from npm, all loaded into the same Deno process as ours (CommonJS builds via \`createRequire\`): ${
      peers.map((name) => `${name} ${peerVersion(name)}`).join(", ")
    }`,
    `- \`@node-cron/redis-coordinator\`: ${
      "version" in coordinator
        ? `${coordinator.version} is on npm but not measured here`
        : `not installable (\`npm view\` answers ${coordinator.error}), so node-cron's Redis-coordinated \`distributed\` mode is not measured`
    }`,
    `- Measured: ${names.join(", ")}`,
  ].join("\n");
  const text = [
    header,
    ...sections.map((section) => `## ${section.title}\n\n${section.body}`),
  ].join("\n\n") + "\n";
  const target = new URL("../RESULTS.md", import.meta.url);
  await Deno.writeTextFile(target, text);
  // The repository's `deno fmt --check` covers Markdown too.
  await new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--quiet", target.pathname],
  }).output();
  console.error(`wrote ${target.pathname}`);
}

if (import.meta.main) await main();
