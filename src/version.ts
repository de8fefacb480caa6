/**
 * The version of dsys: the one place it is written. Servers exchange it so that
 * `dsys probe` can report a version mismatch.
 *
 * @module
 */

/** The dsys release version. */
export const VERSION = "0.1.0";
