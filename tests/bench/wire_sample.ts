/**
 * What the codec benchmarks share: the cluster, the clock, a sending server with long realistic
 * ids, the two modes (plaintext and encrypted) and a codec for a mode.
 *
 * @module
 */

import { Keyring, type ReplayGuard, type Sender, WireCodec } from "../../src/wire/mod.ts";

/** The cluster name every benchmark codec uses. */
export const CLUSTER = "dsys";
/** The wall clock of every encode and decode (ms since the epoch). */
export const NOW = 1_750_000_000_000;
/** A server with an id and address of typical length. */
export const SENDER: Sender = {
  id: "server-3f9a2c71-b5d4-4e0a",
  incarnation: 1_749_999_999_123,
  role: "server",
  addr: { host: "192.168.100.200", port: 7401 },
};

/** Plaintext under the cluster-name key (HMAC only), and encrypted under a secret (ChaCha20-Poly1305). */
export const MODES: { name: string; secrets: string[] }[] = [
  { name: "plaintext", secrets: [] },
  { name: "encrypted", secrets: ["a bench secret"] },
];

/** A codec of `secrets` that receives as `receiver`, with `replay` when given. */
export function benchCodec(secrets: string[], replay?: ReplayGuard): WireCodec {
  return new WireCodec({
    cluster: CLUSTER,
    keyring: Keyring.fromSecrets(secrets, CLUSTER),
    maxDatagramBytes: 16 * 1024,
    receiverId: "receiver",
    replay,
  });
}
