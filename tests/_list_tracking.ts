/**
 * A Deno KV whose `list()` calls are counted and whose iterations count as
 * I/O in flight for `drive()` (`_kv_helpers.ts` tracks reads, writes and
 * commits, not listings), so that fake time never moves while a listing
 * of the ledger is still reading.
 */
import type { KvIo } from "./_kv_helpers.ts";

/** `kv` (already tracked by `io`), its listings tracked too and counted. */
export function trackLists(
  kv: Deno.Kv,
  options: { io: KvIo; listed: (selector: Deno.KvListSelector) => void },
): Deno.Kv {
  const { io, listed } = options;
  return new Proxy(kv, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (property !== "list") return value;
      return (selector: Deno.KvListSelector, more?: Deno.KvListOptions) => {
        listed(selector);
        const iterator = target.list(selector, more);
        let finish!: () => void;
        void io.track(new Promise<void>((resolve) => (finish = resolve)));
        const tracked = {
          [Symbol.asyncIterator]: () => tracked,
          next: async () => {
            try {
              const step = await iterator.next();
              if (step.done) finish();
              return step;
            } catch (error) {
              finish();
              throw error;
            }
          },
          return: (value?: unknown) => {
            finish();
            return Promise.resolve({ done: true, value });
          },
          get cursor() {
            return iterator.cursor;
          },
        };
        return tracked as unknown as Deno.KvListIterator<unknown>;
      };
    },
  });
}
