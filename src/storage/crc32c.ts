/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of every log record — the
 * one etcd's WAL, ext4 and iSCSI use. Written here (a table and a loop) instead of taken from
 * npm: `@aws-crypto/crc32c` brings `tslib` and `@aws-sdk/types` into the single binary for these
 * few lines, and the fast packages (`fast-crc32c`, `sse4_crc32`) are native addons, which neither
 * the bundle nor Deno load.
 *
 * @module
 */

const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** The CRC-32C of `bytes` (as an unsigned 32-bit number). */
export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
