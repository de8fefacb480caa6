/**
 * Datagram budgeting for the chat layer: how many bytes a value takes as JSON on the wire, and
 * packing items into batches that stay under a byte budget (several entries per datagram).
 *
 * Pure functions only; nothing here knows the message kinds.
 *
 * @module
 */

/**
 * Bytes a chat body takes besides its list of items (field names, numbers, brackets): the
 * largest is a delivery's, whose leader id may take 128 bytes, twice that as JSON-escaped.
 */
export const BODY_OVERHEAD_BYTES = 448;

/** UTF-8 length of a string whose surrogates are paired (as `JSON.stringify` output is). */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** Bytes `value` takes as JSON (UTF-8). */
export function jsonBytes(value: unknown): number {
  return utf8Length(JSON.stringify(value));
}

/**
 * Splits `items` into batches of at most `maxItems` whose JSON sizes (plus a comma each) add up
 * to at most `budgetBytes - BODY_OVERHEAD_BYTES`; an item larger than that goes alone.
 *
 * @example
 * ```ts
 * import { packByBytes } from "./size.ts";
 * const batches = packByBytes(["a", "b", "c"], 1000, 2);
 * console.assert(batches.length === 2 && batches[0].length === 2);
 * ```
 */
export function packByBytes<T>(items: readonly T[], budgetBytes: number, maxItems: number): T[][] {
  const budget = budgetBytes - BODY_OVERHEAD_BYTES;
  const batches: T[][] = [];
  let batch: T[] = [];
  let used = 0;
  for (const item of items) {
    const size = jsonBytes(item) + 1;
    if (batch.length > 0 && (used + size > budget || batch.length >= maxItems)) {
      batches.push(batch);
      batch = [];
      used = 0;
    }
    batch.push(item);
    used += size;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}
