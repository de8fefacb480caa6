/**
 * Checks of a core's invariants in the code itself (TigerBeetle's style): a broken invariant is a
 * bug of dsys, never bad input, so it throws at its source, where the simulators and the suite
 * see it, instead of turning into a wrong answer many steps later. Each check must be cheap: a
 * comparison or two on the path it guards. The runtimes treat the throw as any handler throw
 * (the datagram is dropped, counted and logged); the CLI reports it as an internal error.
 *
 * @module
 */

/** A broken invariant: a bug of dsys. */
export class InvariantError extends Error {
  /** Creates the error with the invariant and the values that broke it. */
  constructor(message: string) {
    super(message);
    this.name = "InvariantError";
  }
}

/** Throws an {@linkcode InvariantError} saying `message` unless `condition` holds. */
export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new InvariantError(message);
}
