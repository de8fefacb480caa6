/**
 * The bundling step of the build: esbuild turns the CLI into one JavaScript file for Node ≥ 20.
 *
 * The bundle's entry is a generated launcher that calls the CLI's exported
 * `main(args): Promise<number>` and exits with its code. `import.meta.main` is defined as `false`
 * in every bundled module, so no module's "run when main" block runs inside a bundle: the
 * launcher is the only thing that starts the program, identically in the ESM and CJS variants.
 *
 * - ESM (`dist/dsys.mjs`, run with `node dist/dsys.mjs`): gets a `require` made with
 *   `createRequire`, because bundled CommonJS packages `require()` Node built-ins.
 * - CJS (the input of a Node single-executable application, which must be one CommonJS script):
 *   `import.meta.url` is replaced by the file URL of the running script. Any other use of
 *   `import.meta` would be silently empty in CJS, so it fails the build instead.
 *
 * @module
 */

import * as esbuild from "esbuild";
import { resolve } from "node:path";

/** Module format of a bundle. */
export type BundleFormat = "esm" | "cjs";

/** What to bundle and where. */
export interface BundleOptions {
  /** Repository root; the entry and the output are resolved against it. */
  root: string;
  /** The CLI module, relative to `root`; it must export `main(args): Promise<number>`. */
  entry: string;
  /** Output file (absolute, or relative to `root`). */
  outfile: string;
  /** ESM for `node dist/dsys.mjs`, CJS for a single-executable application. */
  format: BundleFormat;
}

/** A written bundle. */
export interface Bundle {
  /** Absolute path of the bundle. */
  path: string;
  /** Its size in bytes. */
  bytes: number;
}

/** Thrown when esbuild reports errors, or a construct that would break the bundle at run time. */
export class BundleError extends Error {
  /** Creates an error carrying esbuild's formatted messages. */
  constructor(message: string) {
    super(message);
    this.name = "BundleError";
  }
}

const ESM_BANNER = [
  "#!/usr/bin/env node",
  'import { createRequire as __dsysCreateRequire } from "node:module";',
  "const require = __dsysCreateRequire(import.meta.url);",
].join("\n");

const CJS_BANNER = [
  "#!/usr/bin/env node",
  'const __dsysImportMetaUrl = require("node:url").pathToFileURL(__filename).href;',
].join("\n");

function launcher(entry: string, format: BundleFormat): string {
  const specifier = JSON.stringify(`./${entry}`);
  const run = format === "esm"
    ? "process.exit(await main(process.argv.slice(2)));"
    : "main(process.argv.slice(2)).then((code) => process.exit(code));";
  return `import process from "node:process";\nimport { main } from ${specifier};\n${run}\n`;
}

/** Bundles the CLI in one format; throws {@linkcode BundleError} on any error. */
export async function bundle(options: BundleOptions): Promise<Bundle> {
  const { root, entry, format } = options;
  const outfile = resolve(root, options.outfile);
  const define: Record<string, string> = { "import.meta.main": "false" };
  if (format === "cjs") define["import.meta.url"] = "__dsysImportMetaUrl";
  let result: esbuild.BuildResult;
  try {
    result = await esbuild.build({
      absWorkingDir: root,
      stdin: {
        contents: launcher(entry, format),
        resolveDir: root,
        sourcefile: `dsys-launcher-${format}.ts`,
        loader: "ts",
      },
      bundle: true,
      platform: "node",
      target: "node20",
      format,
      outfile,
      define,
      banner: { js: format === "esm" ? ESM_BANNER : CJS_BANNER },
      legalComments: "none",
      logLevel: "silent",
    });
  } catch (error) {
    const errors = (error as { errors?: esbuild.Message[] }).errors;
    if (!errors) throw error;
    throw new BundleError(await describe(`esbuild failed (${format})`, errors, "error"));
  }
  const fatal = result.warnings.filter((w) => w.id === "empty-import-meta");
  if (fatal.length > 0) {
    throw new BundleError(
      await describe(
        "import.meta would be empty in the CommonJS bundle (only import.meta.url and " +
          "import.meta.main are supported)",
        fatal,
        "error",
      ),
    );
  }
  if (result.warnings.length > 0) {
    console.warn(await describe(`esbuild warnings (${format})`, result.warnings, "warning"));
  }
  await Deno.chmod(outfile, 0o755);
  return { path: outfile, bytes: (await Deno.stat(outfile)).size };
}

/** Stops esbuild's service process so that the build can exit. */
export async function stopBundler(): Promise<void> {
  await esbuild.stop();
}

async function describe(
  title: string,
  messages: esbuild.Message[],
  kind: "error" | "warning",
): Promise<string> {
  const formatted = await esbuild.formatMessages(messages, { kind, color: false });
  return `${title}:\n${formatted.join("").trimEnd()}`;
}
