/**
 * A command line the status command cannot act on (exit code 2, with the
 * usage). See `_cli.ts`.
 *
 * @module
 */

/** A command line the command cannot act on; the message names the value. */
export class UsageError extends Error {}
