/**
 * What an executable's first bytes say it is: the file format (ELF, PE, Mach-O) and the machine
 * its code is for. The release build checks every binary it makes with this, so that a mix-up
 * (an x64 Node inside the arm64 file, a Linux binary named `.exe`) fails the build instead of
 * reaching a computer that cannot run it. Pure: bytes in, a description out.
 *
 * @module
 */

/** An executable's file format. */
export type ExeFormat = "elf" | "pe" | "macho";

/** A machine (instruction set) that the release targets. */
export type ExeMachine = "x86_64" | "aarch64";

/** What an executable's header says. */
export interface ExeHeader {
  /** The file format. */
  format: ExeFormat;
  /** The machine its code is for. */
  machine: ExeMachine;
}

/** ELF `e_machine` values (System V ABI). */
const ELF_MACHINES: Record<number, ExeMachine> = { 0x3e: "x86_64", 0xb7: "aarch64" };
/** PE/COFF `Machine` values (IMAGE_FILE_MACHINE_AMD64, IMAGE_FILE_MACHINE_ARM64). */
const PE_MACHINES: Record<number, ExeMachine> = { 0x8664: "x86_64", 0xaa64: "aarch64" };
/** Mach-O `cputype` values (CPU_TYPE_X86_64, CPU_TYPE_ARM64). */
const MACHO_MACHINES: Record<number, ExeMachine> = { 0x01000007: "x86_64", 0x0100000c: "aarch64" };

/** `MH_MAGIC_64` read little-endian: a 64-bit Mach-O for a little-endian machine. */
const MACHO_MAGIC_64 = 0xfeedfacf;

/**
 * Reads the header of a 64-bit little-endian executable. Throws a one-line error naming what
 * was found when the bytes are not one (too short, another format, a 32-bit or universal file,
 * a machine outside {@linkcode ExeMachine}).
 */
export function readExeHeader(bytes: Uint8Array): ExeHeader {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const need = (length: number, what: string) => {
    if (bytes.length < length) {
      throw new Error(`not an executable: ${bytes.length} bytes are too few for ${what}`);
    }
  };
  need(4, "any header");
  if (view.getUint32(0) === 0x7f454c46) {
    need(20, "an ELF header");
    if (bytes[4] !== 2 || bytes[5] !== 1) {
      throw new Error(`ELF class ${bytes[4]}, data ${bytes[5]}: not 64-bit little-endian`);
    }
    return { format: "elf", machine: known(ELF_MACHINES, view.getUint16(18, true), "ELF") };
  }
  if (bytes[0] === 0x4d && bytes[1] === 0x5a) {
    need(0x40, "a DOS header");
    const pe = view.getUint32(0x3c, true);
    need(pe + 6, "a PE header");
    if (view.getUint32(pe) !== 0x50450000) throw new Error("MZ file without a PE signature");
    return { format: "pe", machine: known(PE_MACHINES, view.getUint16(pe + 4, true), "PE") };
  }
  if (view.getUint32(0, true) === MACHO_MAGIC_64) {
    need(8, "a Mach-O header");
    return {
      format: "macho",
      machine: known(MACHO_MACHINES, view.getUint32(4, true), "Mach-O"),
    };
  }
  const magic = [...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, "0")).join("");
  throw new Error(`not a 64-bit ELF, PE or Mach-O executable (magic ${magic})`);
}

function known(table: Record<number, ExeMachine>, value: number, format: string): ExeMachine {
  const machine = table[value];
  if (!machine) {
    throw new Error(`${format} machine 0x${value.toString(16)} is neither x86_64 nor aarch64`);
  }
  return machine;
}

/** What a 64-bit Mach-O's load commands say about the SEA injection. */
export interface MachoLayout {
  /** Segment names in load-command order, e.g. `__TEXT`, `NODE_SEA`, `__LINKEDIT`. */
  segments: string[];
  /** Whether it carries a code signature (`LC_CODE_SIGNATURE`). */
  signed: boolean;
}

/** `LC_SEGMENT_64` and `LC_CODE_SIGNATURE`. */
const LC_SEGMENT_64 = 0x19;
const LC_CODE_SIGNATURE = 0x1d;

/**
 * Reads the load commands of a 64-bit Mach-O (`bytes` must hold the header and all of them):
 * a release binary for macOS must have a `NODE_SEA` segment and no signature, since the one
 * Node's binary had no longer matches after the injection.
 */
export function readMachoLayout(bytes: Uint8Array): MachoLayout {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (readExeHeader(bytes).format !== "macho") throw new Error("not a Mach-O");
  const count = view.getUint32(16, true);
  const layout: MachoLayout = { segments: [], signed: false };
  let offset = 32;
  for (let i = 0; i < count; i++) {
    if (offset + 8 > bytes.length) throw new Error(`Mach-O load command ${i} is cut off`);
    const command = view.getUint32(offset, true);
    const size = view.getUint32(offset + 4, true);
    if (size < 8) throw new Error(`Mach-O load command ${i} has size ${size}`);
    if (command === LC_SEGMENT_64) {
      const name = bytes.subarray(offset + 8, offset + 24);
      const end = name.indexOf(0);
      layout.segments.push(new TextDecoder().decode(end < 0 ? name : name.subarray(0, end)));
    }
    if (command === LC_CODE_SIGNATURE) layout.signed = true;
    offset += size;
  }
  return layout;
}
