/**
 * A passive listener for the lab, run with Deno inside one lab namespace: it joins the cluster's
 * multicast group and, for `ms`, reads every datagram sent there — holding the cluster's secret
 * when it is given one, as a member of the cluster would (the worst case). It never sends.
 *
 * Prints one JSON line: how many datagrams it heard and decoded, by kind, how many stream entries
 * were direct messages, and how many datagrams held `needle` in their bytes or decoded bodies.
 *
 * Run: `ip netns exec NS deno run --unstable-net -A tests/lab/group_listener.ts '{...}'` with
 * `{"group","port","ifaceAddr","cluster","secret"?,"ms","needle"}`.
 *
 * @module
 */

import { Keyring } from "../../src/wire/keyring.ts";
import { WireCodec } from "../../src/wire/codec.ts";
import { listenToGroup } from "./group_socket.ts";

const options = JSON.parse(Deno.args[0]) as {
  group: string;
  port: number;
  ifaceAddr: string;
  cluster: string;
  secret?: string;
  ms: number;
  needle: string;
};

const codec = new WireCodec({
  cluster: options.cluster,
  keyring: Keyring.fromSecrets(options.secret ? [options.secret] : [], options.cluster),
  maxDatagramBytes: 16 * 1024,
});
const needle = new TextEncoder().encode(options.needle);
const report = {
  datagrams: 0,
  decoded: 0,
  kinds: {} as Record<string, number>,
  directEntries: 0,
  rawHits: 0,
  decodedHits: 0,
};

/** True when `bytes` holds `needle` anywhere. */
function holds(bytes: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= bytes.length; i++) {
    for (let j = 0; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

const listener = await listenToGroup(options.group, options.port, options.ifaceAddr);
const buffer = new Uint8Array(65536);
const loop = (async () => {
  try {
    while (true) {
      const [data] = await listener.receive(buffer);
      report.datagrams++;
      if (holds(data)) report.rawHits++;
      const result = codec.decode(data, Date.now());
      if (!result.ok) continue;
      report.decoded++;
      const { body } = result.envelope;
      report.kinds[body.kind] = (report.kinds[body.kind] ?? 0) + 1;
      if (JSON.stringify(body).includes(options.needle)) report.decodedHits++;
      if (body.kind === "chat-stream") {
        report.directEntries += body.entries.filter((e) => e.kind === "direct").length;
      }
    }
  } catch {
    // Closed.
  }
})();
await new Promise((resolve) => setTimeout(resolve, options.ms));
listener.close();
await loop;
console.log(JSON.stringify(report));
