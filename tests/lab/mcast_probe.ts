/**
 * A tiny multicast tool the harness self-test runs inside lab hosts.
 *
 * `listen GROUP PORT IFACE_ADDRESS` joins GROUP on the interface with that address, prints
 * `ready`, then prints every datagram it receives as one line of text.
 * `send GROUP PORT PAYLOAD COUNT` sends PAYLOAD to GROUP COUNT times, 20 ms apart, and exits.
 * Run with `deno run --unstable-net -A tests/lab/mcast_probe.ts ...`.
 *
 * @module
 */

import { listenToGroup } from "./group_socket.ts";

const [mode, group, portText, arg3, arg4] = Deno.args;
const port = Number(portText);

if (mode === "listen") {
  const conn = await listenToGroup(group, port, arg3);
  console.log("ready");
  const buffer = new Uint8Array(2048);
  const decoder = new TextDecoder();
  while (true) {
    const [data] = await conn.receive(buffer);
    console.log(decoder.decode(data));
  }
} else if (mode === "send") {
  const conn = Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port: 0 });
  const payload = new TextEncoder().encode(arg3);
  for (let i = 0; i < Number(arg4); i++) {
    await conn.send(payload, { transport: "udp", hostname: group, port });
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  conn.close();
} else {
  console.error(
    "usage: mcast_probe.ts listen GROUP PORT IFACE_ADDRESS | send GROUP PORT PAYLOAD COUNT",
  );
  Deno.exit(2);
}
