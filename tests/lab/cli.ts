/**
 * `deno task lab`: build a namespace LAN by hand, run dsys on every host of one, or sweep
 * leftovers of crashed runs.
 *
 * ```
 * deno task lab up --hosts 3                       # create, print how to enter each host
 * deno task lab run --hosts 3 -- serve --log-json  # dsys on every host, prefixed output
 * deno task lab sweep                              # remove namespaces of dead runs
 * ```
 *
 * Every lab is destroyed on Ctrl+C (SIGINT) or SIGTERM. Usage errors print one line and exit
 * 2; failures (no root, `ip` errors) print one line and exit 1.
 *
 * @module
 */

import { Command, CommanderError, InvalidArgumentError, Option } from "@commander-js/extra-typings";
import { launcherFor, type TransportName } from "./dsys.ts";
import { Lab, type LabHost, labUnsupportedReason, sweepStale } from "./harness.ts";
import type { LabProcess, Stream } from "./process.ts";

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

function parseHosts(text: string): number {
  const hosts = Number(text);
  if (!/^\d+$/.test(text) || hosts < 1 || hosts > 200) {
    throw new InvalidArgumentError("expected a whole number from 1 to 200");
  }
  return hosts;
}

function parseMs(text: string): number {
  if (!/^\d+$/.test(text)) throw new InvalidArgumentError("expected milliseconds (whole number)");
  return Number(text);
}

/** Resolves at the first SIGINT or SIGTERM; the listeners are removed when it does. */
function stopRequested(): { promise: Promise<Deno.Signal>; dispose: () => void } {
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  const handlers: [Deno.Signal, () => void][] = [];
  const dispose = () => {
    for (const [signal, handler] of handlers) Deno.removeSignalListener(signal, handler);
    handlers.length = 0;
  };
  const promise = new Promise<Deno.Signal>((resolve) => {
    for (const signal of signals) {
      const handler = () => {
        dispose();
        resolve(signal);
      };
      handlers.push([signal, handler]);
      Deno.addSignalListener(signal, handler);
    }
  });
  return { promise, dispose };
}

async function createLab(hosts: number): Promise<Lab> {
  const reason = labUnsupportedReason();
  if (reason) throw new Error(reason);
  return await Lab.create({ hosts });
}

function describe(lab: Lab): string {
  const lines = [
    `lab ${lab.run}: ${lab.hosts.length} host(s) on ${lab.subnet}.0/24, switch namespace ` +
    lab.switchNs,
  ];
  for (const host of lab.hosts) {
    lines.push(
      `  ${host.name}  ${host.address.padEnd(15)} iface ${host.iface.padEnd(13)} ` +
        `enter: ip netns exec ${host.ns} bash`,
    );
  }
  lines.push(
    `cut h1:     ip -n ${lab.switchNs} link set dev ${lab.hosts[0].port} nomaster`,
    `restore h1: ip -n ${lab.switchNs} link set dev ${lab.hosts[0].port} master ${lab.tag}b0`,
  );
  return lines.join("\n");
}

async function up(hosts: number): Promise<void> {
  const stop = stopRequested();
  let lab: Lab | undefined;
  try {
    lab = await createLab(hosts);
    console.log(describe(lab));
    console.log("Ctrl+C destroys the lab (and ends every process inside it).");
    const signal = await stop.promise;
    console.log(`${signal}: destroying lab ${lab.run}`);
  } finally {
    stop.dispose();
    await lab?.destroy();
  }
}

/** Replaces `{host}`, `{index}`, `{address}`, `{iface}` and `{ns}` in one argument. */
function substitute(arg: string, host: LabHost): string {
  const values: Record<string, string> = {
    host: host.name,
    index: String(host.index),
    address: host.address,
    iface: host.iface,
    ns: host.ns,
  };
  return arg.replace(/\{(host|index|address|iface|ns)\}/g, (_, key: string) => values[key]);
}

function prefixed(host: LabHost) {
  const encoder = new TextEncoder();
  return (line: string, stream: Stream) => {
    const text = encoder.encode(`${host.name} | ${line}\n`);
    (stream === "stdout" ? Deno.stdout : Deno.stderr).writeSync(text);
  };
}

async function run(
  hosts: number,
  transport: TransportName,
  staggerMs: number,
  args: string[],
): Promise<number> {
  const stop = stopRequested();
  let lab: Lab | undefined;
  try {
    lab = await createLab(hosts);
    console.log(describe(lab));
    const launcher = launcherFor(transport);
    for (const { path, hint } of launcher.requires) {
      try {
        Deno.statSync(path);
      } catch {
        throw new Error(`${path} is missing: ${hint}`);
      }
    }
    const processes: LabProcess[] = [];
    for (const host of lab.hosts) {
      if (processes.length > 0 && staggerMs > 0) {
        await new Promise((resolve) => setTimeout(resolve, staggerMs));
      }
      const cmd = [launcher.command, ...launcher.prefix, ...args.map((a) => substitute(a, host))];
      console.log(`${host.name} $ ${cmd.join(" ")}`);
      processes.push(host.spawn(cmd, {
        env: { DSYS_TRANSPORT: transport },
        onLine: prefixed(host),
      }));
    }
    const allEnded = Promise.all(processes.map((p) => p.exited));
    const outcome = await Promise.race([stop.promise, allEnded]);
    if (!Array.isArray(outcome)) console.log(`${outcome}: stopping every host`);
    const statuses = await Promise.all(processes.map((p) => p.stop()));
    statuses.forEach((status, i) => {
      const how = status.signal ? `signal ${status.signal}` : `code ${status.code}`;
      console.log(`${lab!.hosts[i].name} exited with ${how}`);
    });
    return statuses.every((s) => s.success) ? 0 : EXIT_FAILURE;
  } finally {
    stop.dispose();
    await lab?.destroy();
  }
}

async function sweep(): Promise<void> {
  const reason = labUnsupportedReason();
  if (reason) throw new Error(reason);
  const removed = await sweepStale();
  console.log(removed.length ? `removed ${removed.join(", ")}` : "nothing to sweep");
}

function program(setExit: (code: number) => void): Command {
  const hostsOption = () =>
    new Option("--hosts <n>", "number of hosts (1-200)").argParser(parseHosts).default(3);
  const root = new Command("lab")
    .description("a LAN of Linux network namespaces for trying dsys (root only)")
    .enablePositionalOptions()
    .exitOverride();
  root.command("up")
    .description("create a lab, print how to enter each host, destroy it on Ctrl+C")
    .addOption(hostsOption())
    .exitOverride()
    .action(async (options) => await up(options.hosts));
  root.command("run")
    .description(
      "create a lab and run dsys with <args> on every host, output prefixed by host, until " +
        "Ctrl+C; {host} {index} {address} {iface} {ns} in <args> are replaced per host",
    )
    .addOption(hostsOption())
    .addOption(
      new Option("--transport <name>", "deno: run the source; node: run dist/dsys")
        .choices(["deno", "node"] as const).default("deno" as const),
    )
    .addOption(
      new Option("--stagger <ms>", "pause between starting two hosts").argParser(parseMs)
        .default(0),
    )
    .argument("<args...>", "dsys arguments, e.g. -- serve --iface {iface} --log-json")
    .passThroughOptions()
    .exitOverride()
    .action(async (args, options) => {
      setExit(await run(options.hosts, options.transport, options.stagger, args));
    });
  root.command("sweep")
    .description("remove namespaces left by crashed lab runs (whose pid is dead)")
    .exitOverride()
    .action(sweep);
  return root;
}

/** Runs the lab CLI with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  let code = 0;
  try {
    await program((c) => code = c).parseAsync(args, { from: "user" });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : EXIT_USAGE;
    const message = error instanceof Error ? error.message : String(error);
    console.error(`lab: ${message.split("\n")[0]}`);
    return EXIT_FAILURE;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
