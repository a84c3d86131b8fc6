// exporter's work, loaded only when it runs (see exporter.ts): an HTTP server answering from the last
// status round, and the rounds, one after another in the background, until SIGINT or SIGTERM.
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { InputError, EXIT_OK } from '../errors.js';
import { formatListenAddress, type ListenAddress } from '../exporter/listen-address.js';
import { respond, type ExporterState } from '../exporter/pages.js';
import { prepareStatus, statusRound, type StatusTarget } from '../status/round.js';

export interface ExporterFlags {
  listen: ListenAddress;
  interval: number;
  limit?: string;
  forks: number;
}

export async function runExporter(inventoryArg: string | undefined, flags: ExporterFlags): Promise<void> {
  const note = (m: string): void => void process.stderr.write(`exporter: ${m}\n`);
  // A bad inventory or --limit is refused (exit 2) before anything listens; later rounds plan again,
  // so keys rotated and nodes added since are seen without a restart.
  let first: StatusTarget | undefined = await prepareStatus(inventoryArg, flags.limit, note);
  const state: ExporterState = { startedAt: Date.now(), intervalSeconds: flags.interval, rounds: { ok: 0, error: 0 } };

  const server = createServer((req, res) => {
    const page = respond(req.method, req.url, state, Date.now());
    res.writeHead(page.status, page.headers).end(page.body);
  });
  const bound = await listen(server, flags.listen);
  note(
    `serving http://${formatListenAddress({ host: bound.address, port: bound.port })}/metrics, a status round every ${flags.interval} s`,
  );

  const stop = async (signal: NodeJS.Signals): Promise<void> => {
    note(`${signal}: stopping`);
    server.close();
    server.closeAllConnections();
    await once(server, 'close');
    // A round still running only reads the nodes; waiting for its SSH timeouts would hold a stop up
    // for a minute, and its agents end by themselves when the connection goes.
    process.exit(EXIT_OK);
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, (s) => void stop(s));

  for (;;) {
    const started = Date.now();
    try {
      const target = first ?? (await prepareStatus(inventoryArg, flags.limit, note));
      first = undefined;
      const round = await statusRound(target, { forks: flags.forks, output: 'json', verbose: false, log: note });
      state.last = { round, endedAt: Date.now() };
      state.rounds.ok++;
    } catch (err) {
      // The exporter outlives a bad round (an inventory being edited, a full disk): the round's age
      // and the error count show it, and the next round tries again.
      state.rounds.error++;
      state.lastError = err instanceof Error ? err.message : String(err);
      note(`status round failed: ${state.lastError}`);
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, started + flags.interval * 1000 - Date.now())));
  }
}

/** What a failed listen means, for the usual causes. */
const LISTEN_ERRORS: Record<string, string> = {
  EADDRINUSE: 'the port is in use',
  EACCES: 'permission denied (ports below 1024 need root)',
  EADDRNOTAVAIL: 'no such address on this machine',
  ENOTFOUND: 'the host name does not resolve',
};

function listen(server: Server, address: ListenAddress): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const fail = (err: NodeJS.ErrnoException): void => {
      const why = LISTEN_ERRORS[err.code ?? ''] ?? err.message;
      reject(new InputError(`cannot listen on ${formatListenAddress(address)}: ${why}`, { field: '--listen' }));
    };
    server.once('error', fail);
    server.listen(address.port, address.host, () => {
      server.off('error', fail);
      resolve(server.address() as AddressInfo);
    });
  });
}
