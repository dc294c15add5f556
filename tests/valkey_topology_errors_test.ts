/**
 * Topology errors are outages, not bugs: what a failover, a slot migration
 * or a Sentinel switch answers is kind `connection` (retried within
 * `retryBudgetMs`), while refused credentials stay `auth`, damaged values
 * `data`, and the rest `unknown`. Pure: the server's error texts as
 * Valkey 8 and iovalkey word them.
 */
import assert from "node:assert/strict";
import { classifyFailure } from "../src/valkey/_client.ts";

const CONNECTION = [
  "READONLY You can't write against a read only replica.",
  "NOREPLICAS Not enough good replicas to write.",
  "TRYAGAIN Multiple keys request during rehashing of slot",
  "CLUSTERDOWN The cluster is down",
  "LOADING Valkey is loading the dataset in memory",
  "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
  "BUSY Valkey is busy running a script.",
  "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)",
  "INPROG failover already in progress",
  "ERR Failover in progress",
  "All sentinels are unreachable. Retrying from scratch after 100ms.",
  "Failed to refresh slots cache.",
  "None of startup nodes is available",
  "Too many Cluster redirections. Last error: MOVED 1 127.0.0.1:7000",
  "Connection is closed.",
];

Deno.test("Valkey errors: failover, migration and Sentinel answers are kind connection", () => {
  for (const message of CONNECTION) {
    assert.equal(
      classifyFailure(undefined, new Error(message)).kind,
      "connection",
      message,
    );
  }
});

Deno.test("Valkey errors: credentials stay auth, damaged values data, a stray MOVED unknown", () => {
  const expected: [string, string][] = [
    ["WRONGPASS invalid username-password pair or user is disabled.", "auth"],
    [
      "NOPERM User alice has no permissions to run the 'evalsha' command",
      "auth",
    ],
    ["WRONGTYPE the lease key holds a hash, not a lease", "data"],
    ["ERR value is not an integer or out of range", "data"],
    // A single-server client pointed at a Cluster node: a configuration
    // mistake, not an outage to wait out.
    ["MOVED 7664 127.0.0.1:7202", "unknown"],
    ["ERR unknown command 'FOO'", "unknown"],
  ];
  for (const [message, kind] of expected) {
    assert.equal(classifyFailure(undefined, new Error(message)).kind, kind);
  }
});
