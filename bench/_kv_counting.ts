/**
 * A counting proxy around a `Deno.Kv` for the benchmark figures: every
 * read and every write commit, attributed to the part of the library (the
 * key's second part) it belongs to.
 *
 * @module
 */

/** Counts of KV calls, keyed by `area` then operation name. */
export class KvCounts {
  readonly #counts = new Map<string, Map<string, number>>();

  bump(area: string, operation: string): void {
    let byOperation = this.#counts.get(area);
    if (byOperation === undefined) {
      byOperation = new Map();
      this.#counts.set(area, byOperation);
    }
    byOperation.set(operation, (byOperation.get(operation) ?? 0) + 1);
  }

  reset(): void {
    this.#counts.clear();
  }

  /** Sum over areas (all when omitted) of the operations matching `pick`. */
  total(pick: (operation: string) => boolean, area?: string): number {
    let sum = 0;
    for (const [name, byOperation] of this.#counts) {
      if (area !== undefined && name !== area) continue;
      for (const [operation, count] of byOperation) {
        if (pick(operation)) sum += count;
      }
    }
    return sum;
  }

  entries(): [string, [string, number][]][] {
    return [...this.#counts].map((
      [area, byOperation],
    ) => [area, [...byOperation]]);
  }
}

/** Write commits: a plain `set`/`delete`, or an atomic operation's commit. */
const COMMIT_OPERATIONS = new Set(["set", "delete", "atomic.commit"]);
const READ_OPERATIONS = new Set(["get", "getMany", "list"]);
export const isCommit = (operation: string) => COMMIT_OPERATIONS.has(operation);
export const isRead = (operation: string) => READ_OPERATIONS.has(operation);

/** Which part of the library a key belongs to: its second part by default. */
export function areaOf(key: unknown): string {
  if (!Array.isArray(key) || key.length === 0) return "(unknown)";
  const part = key.length > 1 ? key[1] : key[0];
  return typeof part === "string" ? part : String(part);
}

/**
 * Wraps a `Deno.Kv` so that every call is counted in `counts`. Methods are
 * bound to the real target: `Deno.Kv` uses private fields.
 */
export function countingKv(kv: Deno.Kv, counts: KvCounts): Deno.Kv {
  const counted = new Set(["get", "getMany", "list", "set", "delete"]);
  return new Proxy(kv, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      if (prop === "atomic") {
        return () => countingAtomic(target.atomic(), counts);
      }
      if (typeof prop === "string" && counted.has(prop)) {
        return (...args: unknown[]) => {
          const key = prop === "getMany"
            ? (args[0] as unknown[])[0]
            : prop === "list"
            ? (args[0] as { prefix?: unknown; start?: unknown }).prefix ??
              (args[0] as { start?: unknown }).start
            : args[0];
          counts.bump(areaOf(key), prop);
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return value.bind(target);
    },
  });
}

/**
 * Wraps an atomic operation: chained calls return the wrapper, `commit()` is
 * counted once per call (attempts, whether or not the checks pass), and the
 * mutations it carries are counted as `atomic.<method>`.
 */
function countingAtomic(
  operation: Deno.AtomicOperation,
  counts: KvCounts,
): Deno.AtomicOperation {
  const pending: [string, unknown][] = [];
  const wrapper: Deno.AtomicOperation = new Proxy(operation, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      if (prop === "commit") {
        return async () => {
          // Attribute the commit to the area of its first key.
          const area = areaOf(pending[0]?.[1]);
          counts.bump(area, "atomic.commit");
          for (const [method] of pending) counts.bump(area, `atomic.${method}`);
          pending.length = 0;
          const result = await (value as () => Promise<
            Deno.KvCommitResult | Deno.KvCommitError
          >).call(target);
          if (!result.ok) counts.bump(area, "atomic.commit (checks failed)");
          return result;
        };
      }
      return (...args: unknown[]) => {
        if (typeof prop === "string") {
          const key = prop === "check"
            ? (args[0] as { key?: unknown } | undefined)?.key
            : args[0];
          pending.push([prop, key]);
        }
        const result = (value as (...a: unknown[]) => unknown).apply(
          target,
          args,
        );
        return result === target ? wrapper : result;
      };
    },
  });
  return wrapper;
}
