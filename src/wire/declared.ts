/**
 * Keeps of a decoded body only the fields its kind declares. A kind's validator in
 * `messages.ts` is where its fields are declared: it reads every field the kind has (a valid body
 * passes every check, so none is skipped). {@linkcode keepDeclared} runs the validator on a view
 * of the parsed JSON that notes each field read, and copies exactly those, nested records and
 * arrays included. A field a newer or hostile sender adds is never read, so it is dropped before
 * any core sees it.
 *
 * A record the validator lists as a whole (with `Object.entries`, as counts by name are) is kept
 * whole. Nothing here does I/O.
 *
 * @module
 */

/** What was read of each object: its field names, or `"all"` when its keys were listed. */
type Reads = Map<object, Set<PropertyKey> | "all">;

/**
 * Runs `check` on `fields` and returns `undefined` when it fails (or throws), else a copy of
 * `fields` with only the fields `check` read, at every depth (array items are all kept, each
 * trimmed the same way).
 */
export function keepDeclared(
  fields: Record<string, unknown>,
  check: (fields: Record<string, unknown>) => boolean,
): Record<string, unknown> | undefined {
  const reads: Reads = new Map();
  const views = new WeakMap<object, object>();
  const view = <T extends object>(target: T): T => {
    let seen = views.get(target);
    if (!seen) {
      seen = new Proxy(target, {
        get(t, key, receiver) {
          const got = reads.get(t);
          if (got === undefined) reads.set(t, new Set([key]));
          else if (got !== "all") got.add(key);
          const value = Reflect.get(t, key, receiver);
          return typeof value === "object" && value !== null ? view(value) : value;
        },
        ownKeys(t) {
          reads.set(t, "all");
          return Reflect.ownKeys(t);
        },
      });
      views.set(target, seen);
    }
    return seen as T;
  };
  try {
    if (check(view(fields)) !== true) return undefined;
  } catch {
    return undefined;
  }
  return copyRead(fields, reads) as Record<string, unknown>;
}

function copyRead(value: unknown, reads: Reads): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return value.map((item) => copyRead(item, reads));
  const read = reads.get(value);
  const record = value as Record<string, unknown>;
  const copy: Record<string, unknown> = {};
  for (const key of read === "all" ? Object.keys(record) : read ?? []) {
    if (typeof key !== "string" || !Object.hasOwn(record, key)) continue;
    const kept = copyRead(record[key], reads);
    // A field named `__proto__` stays a field, as JSON.parse made it (`=` would set the prototype).
    if (key === "__proto__") {
      Object.defineProperty(copy, key, {
        value: kept,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else copy[key] = kept;
  }
  return copy;
}
