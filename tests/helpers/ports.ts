/**
 * UDP ports for tests on loopback, chosen so that tests running in parallel never collide: the
 * kernel hands out unicast ports bound to port 0 from its ephemeral range
 * (`/proc/sys/net/ipv4/ip_local_port_range`), so multicast group ports (shared by every socket of
 * a group, but refused to an exclusive socket already holding the port) come from a range below
 * it, and the few fixed unicast ports a test must choose itself from a second range below it,
 * disjoint from the first.
 *
 * @module
 */

/** Lowest port handed out here. */
const LOW = 20_000;
/** The kernel's ephemeral range, or Linux's default where it cannot be read. */
const EPHEMERAL = ephemeralRange();
/** Ports `LOW` .. `EPHEMERAL.first - 1`: group ports in the lower half, fixed unicast above. */
const SPLIT = LOW + Math.floor((Math.max(EPHEMERAL.first, LOW + 2_000) - LOW) / 2);

function ephemeralRange(): { first: number; last: number } {
  try {
    const [first, last] = Deno.readTextFileSync("/proc/sys/net/ipv4/ip_local_port_range")
      .trim().split(/\s+/).map(Number);
    if (Number.isInteger(first) && Number.isInteger(last) && first > LOW) return { first, last };
  } catch {
    // Not Linux, or no /proc: assume the default.
  }
  return { first: 32_768, last: 60_999 };
}

function between(low: number, high: number): number {
  return low + Math.floor(Math.random() * (high - low));
}

/** A random multicast group port, below the ephemeral range and apart from fixed unicast ports. */
export function groupPort(): number {
  return between(LOW, SPLIT);
}

/**
 * A random unicast port for a test that must name one before binding it (to re-bind it after a
 * close, say): below the ephemeral range, so no socket bound to port 0 takes it, and apart from
 * group ports. Prefer binding port 0 wherever the port need not be known in advance.
 */
export function fixedUnicastPort(): number {
  return between(SPLIT, Math.max(EPHEMERAL.first, LOW + 2_000));
}
