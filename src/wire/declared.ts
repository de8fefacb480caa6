/**
 * Keeps of a decoded body only the fields its kind declares (`fields` in the kind table), at every
 * depth, in one pass that copies a record or array only when it loses something: a field a newer
 * or hostile sender adds is dropped before the validator or any core sees it. The validator then
 * checks the result, so a field the table forgot to declare makes every body that has it invalid
 * rather than slipping through. It owns nothing but that trimming; what a field may hold is the
 * validator's. Nothing here does I/O.
 *
 * @module
 */

import { ANY_NAME, type Fields, type KindSpec, type WireLimits } from "./messages/common.ts";

/**
 * The body `fields` (parsed JSON without `kind`) as a valid body of the kind `spec`: its declared
 * fields only, or `undefined` when those fail the validator (or it throws).
 */
export function declaredBody(
  fields: Record<string, unknown>,
  spec: KindSpec,
  limits: WireLimits,
): Record<string, unknown> | undefined {
  const kept = keepDeclared(fields, spec.fields) as Record<string, unknown>;
  try {
    return spec.validate(kept, limits) === true ? kept : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `value` with only what `shape` declares: a declared record keeps its declared fields (in the
 * sender's order), an array each item trimmed by the item shape, a by-name record every key; a
 * leaf is kept only when it is not an object. A value of another form than declared is passed on
 * as it is, for the validator to refuse. A record or array that holds nothing undeclared comes
 * back as it is (every body of a sender of this version); only one that loses something is copied.
 */
export function keepDeclared(value: unknown, shape: Fields): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (shape === true) return undefined;
  if (Array.isArray(shape)) {
    if (!Array.isArray(value)) return value;
    const item = shape[0];
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const kept = keepDeclared(value[i], item);
      if (copy === undefined && kept !== value[i]) copy = value.slice(0, i);
      if (copy !== undefined) copy.push(kept);
    }
    return copy ?? value;
  }
  if (Array.isArray(value)) return value;
  const record = value as Record<string, unknown>;
  const any = ANY_NAME in shape;
  const each = any ? (shape as { readonly [ANY_NAME]: Fields })[ANY_NAME] : true;
  const declared = any ? undefined : fieldMap(shape as { readonly [field: string]: Fields });
  let copy: Record<string, unknown> | undefined;
  for (const key in record) {
    if (!Object.hasOwn(record, key)) continue;
    const inner = declared ? declared.get(key) : each;
    const v = record[key];
    const kept = inner === undefined
      ? undefined
      : inner === true
      ? (typeof v === "object" && v !== null ? undefined : v)
      : keepDeclared(v, inner);
    if (copy === undefined && kept !== v) copy = copyBefore(record, key);
    if (copy !== undefined && (any || kept !== undefined)) put(copy, key, kept);
  }
  return copy ?? record;
}

/** The fields of `record` that come before `stop`, as they are. */
function copyBefore(record: Record<string, unknown>, stop: string): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const key in record) {
    if (key === stop) break;
    if (Object.hasOwn(record, key)) put(copy, key, record[key]);
  }
  return copy;
}

/** Each declared record shape's fields as a map, made once: a lookup without `hasOwn`. */
const FIELD_MAPS = new WeakMap<object, Map<string, Fields>>();

/** The fields `shape` declares, by name. */
function fieldMap(shape: { readonly [field: string]: Fields }): Map<string, Fields> {
  let map = FIELD_MAPS.get(shape);
  if (!map) {
    map = new Map(Object.entries(shape));
    FIELD_MAPS.set(shape, map);
  }
  return map;
}

function put(copy: Record<string, unknown>, key: string, value: unknown): void {
  // A field named `__proto__` stays a field, as JSON.parse made it (`=` would set the prototype).
  if (key === "__proto__") {
    Object.defineProperty(copy, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else copy[key] = value;
}
