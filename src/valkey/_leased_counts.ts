/**
 * What the Valkey state store's leased writes (`_leased_writes.ts`)
 * remember of each job's in-flight records between grants, so that a
 * steady run's grant reads nothing to answer the job's record count
 * (`LeasedAcquire.inFlight`), as Deno KV's leased writes do
 * (`src/deno_kv/_leased_memory.ts`).
 *
 * Every record is written by a grant, of any instance and either path,
 * and every grant moves the job's fencing counter. So while the stored
 * counter is the token of this store's last grant of the job (the grant
 * script compares them, see `_lua_leased.ts`), no record was added that
 * this store does not know of: the records then are at most the ones
 * counted when the script last counted them (`HLEN`), less those this
 * store's own ends cleared since, plus those its own grants wrote since.
 * Records removed by others are still counted until the script counts
 * again: the count may be high (the scheduler then looks at the ledger),
 * never low.
 *
 * A failover that loses writes loses a grant's counter with its record
 * (the counter is then not the token, and the script counts), but may lose
 * an end alone, and with it the record's removal. A grant whose
 * compare-and-set of the state failed first (the state is not what this
 * store last wrote) sends no token, so the script counts; but a save of
 * this store in between, or an end whose state equals its grant's, leaves
 * the lost end's record uncounted until the next count. Only a `complete`
 * end is ever taken off the count, so what goes uncounted is the record of
 * a run that did complete: never a given-back or dead holder's occurrence,
 * which stays counted. The ledger's look at each `run()`'s start finds it
 * either way.
 *
 * @module
 */

/**
 * What a granting script answered of the job's records after the fencing
 * token (see `_lua_leased.ts`): "same" (with a record, and whether its
 * field was new), or the count of the job's records; undefined when the
 * answer is none of these.
 */
export function recordsAnswer(
  reply: readonly unknown[],
  record: boolean,
): { counted: number | "same" | undefined; added: boolean } | undefined {
  const [answer, added] = [reply[3], reply[4]];
  if (answer === "same") {
    if (record && added !== 0 && added !== 1) return undefined;
    return { counted: "same", added: added === 1 };
  }
  if (!record) return { counted: undefined, added: false };
  if (
    typeof answer !== "number" || !Number.isSafeInteger(answer) || answer < 1
  ) {
    return undefined;
  }
  return { counted: answer, added: false };
}

/** A job's records as known after a grant of this store. */
export interface KnownRecords {
  /** The fencing token that grant got. */
  readonly token: string;
  /** Records not written by this store's grants since the last count. */
  readonly others: number;
  /** Records written by them: field (timestamp) → holder token. */
  readonly mine: ReadonlyMap<string, string>;
}

/** The records of each job, by job id. */
export class LeasedCounts {
  readonly #jobs = new Map<string, KnownRecords>();

  /** What is known of `jobId`'s records, to send with a grant. */
  known(jobId: string): KnownRecords | undefined {
    return this.#jobs.get(jobId);
  }

  /**
   * Takes note of a grant: `counted` is the script's count of the job's
   * records (after the grant), or "same" when the stored counter was
   * `sent.token` (then `added` says whether the record's field was new).
   * Answers the job's record count after the grant when it wrote a record.
   */
  granted(jobId: string, grant: {
    sent: KnownRecords | undefined;
    token: string;
    counted: number | "same" | undefined;
    /** The record written: its field and holder; absent without one. */
    record?: { field: string; holder: string; added: boolean };
  }): number | undefined {
    const { sent, token, counted, record } = grant;
    if (counted === "same" && sent !== undefined) {
      let others = sent.others;
      const mine = new Map(sent.mine);
      if (record !== undefined) {
        // An existing record this store did not write was counted among
        // the others; ours takes its field now.
        if (!record.added && !mine.has(record.field) && others > 0) others--;
        mine.set(record.field, record.holder);
      }
      this.#jobs.set(jobId, { token, others, mine });
      return record === undefined ? undefined : others + mine.size;
    }
    if (typeof counted === "number" && record !== undefined) {
      this.#jobs.set(jobId, {
        token,
        others: Math.max(0, counted - 1),
        mine: new Map([[record.field, record.holder]]),
      });
      return counted;
    }
    this.#jobs.delete(jobId);
    return undefined;
  }

  /**
   * Takes note of an end of `holder`'s lease that cleared its record at
   * `field` (only a record this store wrote with that lease is forgotten).
   */
  cleared(jobId: string, field: string, holder: string): void {
    const known = this.#jobs.get(jobId);
    if (known?.mine.get(field) !== holder) return;
    const mine = new Map(known.mine);
    mine.delete(field);
    this.#jobs.set(jobId, { ...known, mine });
  }
}
