/**
 * The Cluster hash slot of a key (CRC16-XMODEM of the key's UTF-8 bytes,
 * or of its hash tag, modulo 16384), so a grant can be sent to the node
 * that serves the job's slot and `WAIT`ed for on the same connection (see
 * `_durability.ts`).
 *
 * @module
 */

const encoder = new TextEncoder();

/** The slot `CLUSTER KEYSLOT <key>` names. */
export function keySlot(key: string): number {
  let bytes = encoder.encode(key);
  // A hash tag: the bytes between the first "{" and the next "}", if any.
  const open = bytes.indexOf(0x7b);
  if (open >= 0) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) bytes = bytes.subarray(open + 1, close);
  }
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
  }
  return crc % 16_384;
}
