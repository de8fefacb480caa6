/**
 * The socket a lab tool listens to the cluster's multicast group with, inside its namespace.
 *
 * @module
 */

/** A socket on `port` (shared with the host's other listeners) joined to `group` on `ifaceAddr`. */
export async function listenToGroup(
  group: string,
  port: number,
  ifaceAddr: string,
): Promise<Deno.DatagramConn> {
  const conn = Deno.listenDatagram({
    transport: "udp",
    hostname: "0.0.0.0",
    port,
    reuseAddress: true,
  });
  await conn.joinMulticastV4(group, ifaceAddr);
  return conn;
}
