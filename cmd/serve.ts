/**
 * `dsys serve`: runs a server until a stop signal (Ctrl+C; SIGTERM, or Ctrl+Break on Windows).
 *
 * @module
 */

import { Command, Option } from "@commander-js/extra-typings";
import {
  defaultLanConfig,
  defaultStorageConfig,
  MAX_TIMER_MS,
  resolveConfig,
} from "../src/config/mod.ts";
import { logger, setupLogging } from "../src/log/mod.ts";
import { type HttpEndpoint, parseHttpAddress, startHttpServer } from "../src/server/http.ts";
import { Server } from "../src/server/server.ts";
import { TransportError } from "../src/transport/types.ts";
import { isTerminalSafe, WIRE_BOUNDS } from "../src/wire/messages.ts";
import { commonOptionsOf, commonOverrides, wholeNumberIn, withCommonOptions } from "./options.ts";
import { UsageError } from "./errors.ts";
import { stopSignal } from "./signals.ts";
import { socketOpener } from "./transport.ts";
import { userStateDirectory } from "./state.ts";
import {
  type DataDir,
  DataDirError,
  defaultDataDir,
  openDataDir,
} from "../src/storage/data_dir.ts";
import { WalCorruption } from "../src/storage/wal.ts";
import { ChatDisk } from "../src/server/chat_disk.ts";
import type { Config } from "../src/config/mod.ts";
import { webFront } from "./web.ts";

/** Longest node id the wire format carries (bytes of UTF-8). */
const MAX_ID_BYTES = 128;

/** Checks `--id`: 1-128 bytes without spaces or control characters (it is printed as it is). */
export function validateNodeId(id: string | undefined): string | undefined {
  if (id === undefined) return undefined;
  if (
    new TextEncoder().encode(id).length > MAX_ID_BYTES || !isTerminalSafe(id)
  ) {
    throw new UsageError(
      `--id ${
        JSON.stringify(id)
      }: use 1-${MAX_ID_BYTES} bytes without spaces or control characters`,
    );
  }
  return id;
}

/**
 * Names the way out when the unicast port is taken, most often by another server on the same
 * computer. The port is not moved silently: the default id is `<address>:<unicast port>`, so a
 * fixed port keeps a server's id across restarts, and `--peers` seeds name that port.
 */
export function explainStartError(error: unknown, unicastPort: number): unknown {
  const code = (error as { cause?: { code?: unknown } } | null)?.cause?.code;
  if (!(error instanceof TransportError) || code !== "EADDRINUSE" || unicastPort === 0) {
    return error;
  }
  if (!error.message.startsWith(`UDP port ${unicastPort} is already in use`)) return error;
  return new UsageError(
    `${error.message} (another dsys serve on this computer?): give each server its own ` +
      `--unicast-port, or --unicast-port 0 for any free port`,
  );
}

/**
 * Opens the chat log of server `id` in `dataDir` (the default one under the state directory when
 * undefined): one line and exit 2 for a directory that cannot be used or a corrupted log.
 */
export function openChatLog(
  config: Config,
  dataDir: string | undefined,
  repair: boolean,
  id: string,
  held: (dir: DataDir) => void,
): ReturnType<typeof ChatDisk.open> {
  const owner = { cluster: config.network.cluster, id };
  const path = dataDir ?? defaultDataDir(userStateDirectory(), owner);
  let dir: DataDir;
  try {
    dir = openDataDir(path, owner);
  } catch (error) {
    throw error instanceof DataDirError ? new UsageError(error.message) : error;
  }
  try {
    const opened = ChatDisk.open({ dir: path, storage: config.storage, repair });
    held(dir);
    const log = logger("storage");
    if (opened.torn) {
      log.warn("cut a torn chat log tail of {bytes} bytes at byte {offset} of {file}", {
        event: "chat-log-torn",
        ...opened.torn,
      });
    }
    if (opened.repair) {
      log.warn("repaired the chat log: truncated {file} at byte {offset}; kept {kept}", {
        event: "chat-log-repaired",
        ...opened.repair,
      });
    }
    const { prev, entries } = opened.restored;
    log.info("chat log in {dir}: {lines} entries after seq {prev}", {
      event: "chat-log-opened",
      dir: path,
      lines: entries.length,
      prev,
    });
    return opened;
  } catch (error) {
    dir.release();
    if (error instanceof WalCorruption) {
      throw new UsageError(
        `${error.message}: start with --repair to truncate the log there (a copy is kept)`,
      );
    }
    if (error instanceof Error && !(error instanceof UsageError)) {
      throw new UsageError(`data directory ${path}: ${error.message}`);
    }
    throw error;
  }
}

/** Builds the `serve` command. */
export function serveCommand() {
  return withCommonOptions(
    new Command("serve").description("run a dsys server on this computer"),
  )
    .addOption(
      new Option("--unicast-port <n>", "UDP port for direct messages (0: any free port)")
        .env("DSYS_UNICAST_PORT").argParser(wholeNumberIn(0, WIRE_BOUNDS.port))
        .default(defaultLanConfig().network.unicastPort),
    )
    .addOption(
      new Option("--priority <n>", "Bully priority: the highest (priority, id) leads")
        .env("DSYS_PRIORITY").argParser(wholeNumberIn(-WIRE_BOUNDS.priority, WIRE_BOUNDS.priority))
        .default(0),
    )
    .addOption(
      new Option("--id <id>", "node id (default: <address>:<unicast port>)").env("DSYS_ID"),
    )
    .addOption(
      new Option("--status-interval <s>", "print the view every S seconds (0: never)")
        .env("DSYS_STATUS_INTERVAL").argParser(wholeNumberIn(0, Math.floor(MAX_TIMER_MS / 1000)))
        .default(defaultLanConfig().output.statusIntervalMs / 1000),
    )
    .addOption(
      new Option(
        "--http <[host:]port>",
        "serve the chat page /, /cluster, /status and /metrics (a bare port: 127.0.0.1)",
      )
        .env("DSYS_HTTP").argParser(parseHttpAddress),
    )
    .addOption(
      new Option(
        "--data-dir <dir>",
        "keep the chat log in DIR (default: one per server under the state directory; " +
          "none: in memory only)",
      ).env("DSYS_DATA_DIR"),
    )
    .addOption(
      new Option("--retain-lines <n>", "delete the disk's chat lines once N newer ones follow")
        .env("DSYS_RETAIN_LINES").argParser(wholeNumberIn(1, Number.MAX_SAFE_INTEGER))
        .default(defaultStorageConfig().retainLines),
    )
    .addOption(
      new Option("--retain-days <d>", "delete the disk's chat lines once older than D days")
        .env("DSYS_RETAIN_DAYS").argParser(wholeNumberIn(1, 1_000_000))
        .default(defaultStorageConfig().retainDays),
    )
    .addOption(
      new Option(
        "--repair",
        "truncate a corrupted chat log where the damage starts (keeps a copy)",
      ),
    )
    .action(async (own, command) => {
      const options = { ...commonOptionsOf(command), ...own };
      setupLogging({ level: options.logLevel, json: options.logJson === true });
      const overrides = commonOverrides(options);
      const config = resolveConfig({
        ...overrides,
        network: { ...overrides.network, unicastPort: options.unicastPort },
        output: { statusIntervalMs: options.statusInterval * 1000 },
        storage: { retainLines: options.retainLines, retainDays: options.retainDays },
      });
      const id = validateNodeId(options.id);
      let server: Server | undefined;
      let dataDir: DataDir | undefined;
      let http: HttpEndpoint | undefined;
      const web = options.http ? webFront(config, () => server, () => http) : undefined;
      if (options.http) {
        http = await startHttpServer(options.http, () => server?.status(), web?.handle).catch(
          (error) => {
            throw new UsageError(error.message);
          },
        );
        const url = `http://${http.address.host}:${http.address.port}`;
        logger("http").info("status on {url}/status, metrics on {url}/metrics", {
          event: "http-listening",
          url,
        });
      }
      try {
        server = await Server.start({
          config,
          priority: options.priority,
          id,
          statusTable: options.logJson !== true,
          openSockets: socketOpener(),
          disk: options.dataDir === "none"
            ? undefined
            : (serverId) =>
              openChatLog(config, options.dataDir, options.repair === true, serverId, (dir) => {
                dataDir = dir;
              }),
        }).catch((error) => {
          throw explainStartError(error, config.network.unicastPort);
        });
        await stopSignal();
        await web?.close();
        await server.stop();
      } finally {
        dataDir?.release();
        await web?.close();
        await http?.close();
      }
    });
}
