/**
 * Keeps of a decoded body only the fields its kind declares (`fields` in the kind table), at every
 * depth, in one pass that copies as it goes: a field a newer or hostile sender adds is dropped
 * before the validator or any core sees it. The validator then checks the copy, so a field the
 * table forgot to declare makes every body that has it invalid rather than slipping through. It
 * owns nothing but that copy; what a field may hold is the validator's. Nothing here does I/O.
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
 * A copy of `value` with only what `shape` declares: a declared record keeps its declared fields
 * (in the sender's order), an array each item trimmed by the item shape, a by-name record every
 * key; a leaf is kept only when it is not an object. A value of another form than declared is
 * passed on as it is, for the validator to refuse.
 */
export function keepDeclared(value: unknown, shape: Fields): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (shape === true) return undefined;
  if (Array.isArray(shape)) {
    if (!Array.isArray(value)) return value;
    const item = shape[0];
    const copy = new Array(value.length);
    for (let i = 0; i < value.length; i++) copy[i] = keepDeclared(value[i], item);
    return copy;
  }
  if (Array.isArray(value)) return value;
  const record = value as Record<string, unknown>;
  const copy: Record<string, unknown> = {};
  if (ANY_NAME in shape) {
    const each = (shape as { readonly [ANY_NAME]: Fields })[ANY_NAME];
    for (const key of Object.keys(record)) put(copy, key, keepDeclared(record[key], each));
    return copy;
  }
  const declared = shape as { readonly [field: string]: Fields };
  for (const key of Object.keys(record)) {
    if (!Object.hasOwn(declared, key)) continue;
    const kept = keepDeclared(record[key], declared[key]);
    if (kept !== undefined) put(copy, key, kept);
  }
  return copy;
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
