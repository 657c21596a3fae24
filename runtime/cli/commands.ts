// The command table. Each command parses its own flags and imports its implementation lazily, so
// `tsrun state` does not pay for what `tsrun create` needs.
import { parseFlags, requireId, str, bool, list, UsageError, type FlagSpec } from './args.js';
import type { GlobalOptions } from './main.js';
import { readFileSync } from 'node:fs';
import { writeOut } from './output.js';
import { linuxSys } from '../sys/linux.js';
import { StateStore } from '../container/store.js';

export interface Command {
  summary: string;
  /** What follows the flags, for `tsrun COMMAND --help`. */
  args: string;
  run(argv: string[], global: GlobalOptions): Promise<number>;
}

const createFlags: FlagSpec[] = [
  { name: 'bundle', alias: 'b', type: 'string', default: '.' },
  { name: 'pid-file', type: 'string' },
  { name: 'console-socket', type: 'string' },
  { name: 'no-pivot', type: 'boolean' },
  { name: 'no-new-keyring', type: 'boolean' },
  { name: 'preserve-fds', type: 'string', default: '0' },
];

function createOptions(flags: Record<string, unknown>, id: string, global: GlobalOptions) {
  const preserve = str(flags as never, 'preserve-fds') ?? '0';
  if (!/^\d+$/.test(preserve)) throw new UsageError(`invalid --preserve-fds "${preserve}"`);
  return {
    id,
    bundle: str(flags as never, 'bundle') ?? '.',
    pidFile: str(flags as never, 'pid-file'),
    consoleSocket: str(flags as never, 'console-socket'),
    noPivot: bool(flags as never, 'no-pivot'),
    preserveFds: Number(preserve),
    systemdCgroup: global.systemdCgroup,
  };
}

const store = (g: GlobalOptions) => new StateStore(g.root);

export const commands: Record<string, Command> = {
  create: {
    summary: 'create a container from a bundle; its process waits for `start`',
    args: '<container-id>',
    async run(argv, g) {
      const { flags, positional } = parseFlags(argv, createFlags);
      const { createContainer } = await import('../container/create.js');
      await createContainer(linuxSys, store(g), createOptions(flags, requireId('create', positional), g));
      return 0;
    },
  },
  start: {
    summary: 'run the user process of a created container',
    args: '<container-id>',
    async run(argv, g) {
      const { positional } = parseFlags(argv, []);
      const { startContainer } = await import('../container/start.js');
      await startContainer(linuxSys, store(g), requireId('start', positional));
      return 0;
    },
  },
  run: {
    summary: 'create and start a container; wait for it unless --detach',
    args: '<container-id>',
    async run(argv, g) {
      const { flags, positional } = parseFlags(argv, [
        ...createFlags,
        { name: 'detach', alias: 'd', type: 'boolean' },
        { name: 'keep', type: 'boolean' },
      ]);
      const { runContainer } = await import('../container/run.js');
      return runContainer(linuxSys, store(g), {
        ...createOptions(flags, requireId('run', positional), g),
        detach: bool(flags, 'detach'),
        keep: bool(flags, 'keep'),
      });
    },
  },
  state: {
    summary: 'print the state of a container as JSON',
    args: '<container-id>',
    async run(argv, g) {
      const { positional } = parseFlags(argv, []);
      const { containerState } = await import('../container/query.js');
      writeOut(JSON.stringify(containerState(store(g), requireId('state', positional)), null, 2) + '\n');
      return 0;
    },
  },
  list: {
    summary: 'list containers (--format table|json, -q for ids only)',
    args: '',
    async run(argv, g) {
      const { flags } = parseFlags(argv, [
        { name: 'format', alias: 'f', type: 'string', default: 'table' },
        { name: 'quiet', alias: 'q', type: 'boolean' },
      ]);
      const format = str(flags, 'format');
      if (format !== 'table' && format !== 'json') throw new UsageError(`invalid --format "${format}": use table or json`);
      const { listContainers, formatTable } = await import('../container/query.js');
      const rows = listContainers(store(g));
      if (bool(flags, 'quiet')) writeOut(rows.map((r) => `${r.id}\n`).join(''));
      else if (format === 'json') writeOut(JSON.stringify(rows.length ? rows : null) + '\n');
      else writeOut(formatTable(rows));
      return 0;
    },
  },
  kill: {
    summary: 'send a signal (default TERM) to the container init, or every process with --all',
    args: '<container-id> [signal]',
    async run(argv, g) {
      const { flags, positional } = parseFlags(argv, [{ name: 'all', alias: 'a', type: 'boolean' }]);
      const id = requireId('kill', positional.slice(0, 1));
      if (positional.length > 2) throw new UsageError(`"kill" takes a container id and a signal, got: ${positional.join(' ')}`);
      const { killContainer, parseSignal } = await import('../container/kill.js');
      await killContainer(linuxSys, store(g), id, parseSignal(positional[1] ?? 'TERM'), bool(flags, 'all'));
      return 0;
    },
  },
  delete: {
    summary: 'delete a container (--force: also a running one)',
    args: '<container-id>',
    async run(argv, g) {
      const { flags, positional } = parseFlags(argv, [{ name: 'force', alias: 'f', type: 'boolean' }]);
      const { deleteContainer } = await import('../container/delete.js');
      await deleteContainer(linuxSys, store(g), requireId('delete', positional), bool(flags, 'force'));
      return 0;
    },
  },
  exec: {
    summary: 'run a new process inside a running container',
    args: '<container-id> <command> [args...]',
    async run(argv, g) {
      const { flags, positional } = parseFlags(argv, [
        { name: 'process', alias: 'p', type: 'string' },
        { name: 'detach', alias: 'd', type: 'boolean' },
        { name: 'pid-file', type: 'string' },
        { name: 'tty', alias: 't', type: 'boolean' },
        { name: 'console-socket', type: 'string' },
        { name: 'cwd', type: 'string' },
        { name: 'env', alias: 'e', type: 'list' },
        { name: 'user', alias: 'u', type: 'string' },
        { name: 'additional-gids', alias: 'g', type: 'list' },
        { name: 'cap', alias: 'c', type: 'list' },
        { name: 'no-new-privs', type: 'boolean' },
        { name: 'preserve-fds', type: 'string', default: '0' },
        { name: 'apparmor', type: 'string' },
        { name: 'process-label', type: 'string' },
        { name: 'cgroup', type: 'string' },
        { name: 'ignore-paused', type: 'boolean' },
      ], 1);
      const id = requireId('exec', positional, true);
      const preserve = str(flags, 'preserve-fds') ?? '0';
      if (!/^\d+$/.test(preserve)) throw new UsageError(`invalid --preserve-fds "${preserve}"`);
      const { execInContainer } = await import('../container/exec.js');
      return execInContainer(linuxSys, store(g), {
        id,
        processFile: str(flags, 'process'),
        args: positional.slice(1),
        detach: bool(flags, 'detach'),
        pidFile: str(flags, 'pid-file'),
        tty: bool(flags, 'tty'),
        consoleSocket: str(flags, 'console-socket'),
        cwd: str(flags, 'cwd'),
        env: list(flags, 'env'),
        user: str(flags, 'user'),
        additionalGids: list(flags, 'additional-gids').flatMap((g) => g.split(',')),
        caps: list(flags, 'cap'),
        noNewPrivs: bool(flags, 'no-new-privs'),
        preserveFds: Number(preserve),
        apparmor: str(flags, 'apparmor'),
        processLabel: str(flags, 'process-label'),
        cgroup: str(flags, 'cgroup'),
        ignorePaused: bool(flags, 'ignore-paused'),
      });
    },
  },
  pause: {
    summary: 'freeze every process of a container',
    args: '<container-id>',
    async run(argv, g) {
      const { positional } = parseFlags(argv, []);
      const { pauseContainer } = await import('../container/pause.js');
      pauseContainer(linuxSys, store(g), requireId('pause', positional));
      return 0;
    },
  },
  resume: {
    summary: 'thaw a paused container',
    args: '<container-id>',
    async run(argv, g) {
      const { positional } = parseFlags(argv, []);
      const { resumeContainer } = await import('../container/pause.js');
      resumeContainer(linuxSys, store(g), requireId('resume', positional));
      return 0;
    },
  },
  ps: {
    summary: 'list the processes of a container (--format table|json; extra args go to ps)',
    args: '<container-id> [ps options]',
    async run(argv, g) {
      const { flags, positional } = parseFlags(argv, [{ name: 'format', alias: 'f', type: 'string', default: 'table' }], 1);
      const id = requireId('ps', positional, true);
      const format = str(flags, 'format');
      if (format !== 'table' && format !== 'json') throw new UsageError(`invalid --format "${format}": use table or json`);
      const { containerPids, psTable } = await import('../container/resources.js');
      const pids = containerPids(store(g), id);
      writeOut(format === 'json' ? JSON.stringify(pids) + '\n' : psTable(pids, positional.slice(1)));
      return 0;
    },
  },
  events: {
    summary: 'stats (--stats once, else every --interval) and OOM events of a container, as JSON lines',
    args: '<container-id>',
    async run(argv, g) {
      const { flags, positional } = parseFlags(argv, [
        { name: 'stats', type: 'boolean' },
        { name: 'interval', type: 'string', default: '5s' },
      ]);
      const id = requireId('events', positional);
      const { statsJson, streamEvents, parseDuration } = await import('../container/resources.js');
      if (bool(flags, 'stats')) {
        writeOut(statsJson(store(g), id) + '\n');
        return 0;
      }
      await streamEvents(store(g), id, parseDuration(str(flags, 'interval')!), (line) => writeOut(line + '\n'));
      return 0;
    },
  },
  update: {
    summary: 'change the resource limits of a running container (--resources FILE|- or runc flags)',
    args: '<container-id>',
    async run(argv, g) {
      const valueFlags = ['resources', 'r', 'blkio-weight', 'cpu-period', 'cpu-quota', 'cpu-burst', 'cpu-share', 'cpu-shares', 'cpu-rt-period',
        'cpu-rt-runtime', 'cpu-idle', 'cpuset-cpus', 'cpuset-mems', 'kernel-memory', 'kernel-memory-tcp', 'memory', 'memory-reservation',
        'memory-swap', 'pids-limit', 'l3-cache-schema', 'mem-bw-schema'];
      const { flags, positional } = parseFlags(argv, valueFlags.map((name) => (name === 'r' ? { name: 'resources', alias: 'r', type: 'string' as const } : { name, type: 'string' as const })));
      const id = requireId('update', positional);
      const { resourcesFromUpdateFlags, parseResourcesJson, intelRdtFromUpdateFlags } = await import('../cgroups/index.js');
      const rest = Object.fromEntries(Object.entries(flags).filter(([k]) => k !== 'resources')) as Record<string, string>;
      if (intelRdtFromUpdateFlags(rest)) throw new UsageError('--l3-cache-schema/--mem-bw-schema: unsupported: Intel RDT is not supported by tsrun');
      const file = str(flags, 'resources');
      let update = resourcesFromUpdateFlags(rest);
      if (file !== undefined) {
        update = { ...parseResourcesJson(readFileSync(file === '-' ? 0 : file, 'utf8')), ...update };
      }
      const { updateContainer } = await import('../container/resources.js');
      updateContainer(linuxSys, store(g), id, update);
      return 0;
    },
  },
  'seal-node': {
    summary: 'seal the Node that create/run/exec run on (CVE-2019-5736; automatic on first use)',
    args: '',
    async run(argv) {
      const { flags, positional } = parseFlags(argv, [{ name: 'remove', type: 'boolean' }]);
      if (positional.length) throw new UsageError('seal-node takes no arguments');
      const { sealNode, removeSealedNodes } = await import('../process/sealed-node.js');
      if (bool(flags, 'remove')) removeSealedNodes(linuxSys);
      else writeOut(`${sealNode(linuxSys, process.execPath).path}\n`);
      return 0;
    },
  },
  spec: {
    summary: 'write a default config.json (--rootless for a rootless one)',
    args: '',
    async run(argv) {
      const { flags, positional } = parseFlags(argv, [
        { name: 'bundle', alias: 'b', type: 'string' },
        { name: 'rootless', type: 'boolean' },
      ]);
      if (positional.length) throw new UsageError(`"spec" takes no arguments, got: ${positional.join(' ')}`);
      const { specCommand } = await import('../../spec/cli-spec.js');
      await specCommand({ bundle: str(flags, 'bundle'), rootless: bool(flags, 'rootless') });
      return 0;
    },
  },
  features: {
    summary: 'print the features this runtime supports (runtime-spec features.json)',
    args: '',
    async run(argv) {
      parseFlags(argv, []);
      const { featuresCommand } = await import('../../spec/cli-features.js');
      featuresCommand();
      return 0;
    },
  },
  bundle: {
    summary: 'make a bundle from an OCI image (bundle create --image SRC DEST)',
    args: 'create --image SOURCE DEST',
    async run(argv) {
      const { bundleCommand } = await import('../../bundles/cli.js');
      return bundleCommand(argv);
    },
  },
};
