// `tsrun bundle ...`: parses its own flags. Exit codes: 0 done, 1 failed, 2 usage error.
import { createBundle, type BundleMode } from './create.js';

const USAGE = `usage: tsrun bundle create --image SRC [--tag T] [--unpack|--overlay] [--cache DIR] DEST

  SRC       an OCI image layout dir, an OCI archive (tar of a layout) or a "docker save" tar;
            "DIR:TAG" is accepted too
  --tag T   which image of SRC (its ref name / repo tag); needed when SRC holds several
  --unpack  one flat rootfs directory in DEST/rootfs (default)
  --overlay layers unpacked once into a shared cache; the rootfs is an overlay mounted at create
  --cache   layer cache root for --overlay (default $TSRUN_LAYER_CACHE or /var/lib/tsrun)
`;

interface CreateArgs {
  image?: string;
  tag?: string;
  mode?: BundleMode;
  cache?: string;
  dest?: string;
}

class Usage extends Error {}

function parseCreate(argv: string[]): CreateArgs {
  const out: CreateArgs = {};
  const valueFlags: Record<string, keyof CreateArgs> = { image: 'image', tag: 'tag', cache: 'cache' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      for (const rest of argv.slice(i + 1)) setDest(out, rest);
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      setDest(out, arg);
      continue;
    }
    const m = /^--?([a-z-]+)(?:=(.*))?$/s.exec(arg);
    if (!m) throw new Usage(`unknown flag ${arg}`);
    const [, name, inline] = m;
    if (name === 'unpack' || name === 'overlay') {
      if (inline !== undefined) throw new Usage(`--${name} takes no value`);
      if (out.mode && out.mode !== name) throw new Usage('--unpack and --overlay exclude each other');
      out.mode = name;
      continue;
    }
    const key = valueFlags[name];
    if (!key) throw new Usage(`unknown flag ${arg}`);
    const value = inline ?? argv[++i];
    if (value === undefined || value === '') throw new Usage(`--${name} needs a value`);
    if (out[key] !== undefined) throw new Usage(`--${name} given twice`);
    (out as Record<string, string>)[key] = value;
  }
  if (!out.image) throw new Usage('--image is required');
  if (!out.dest) throw new Usage('DEST (the bundle directory to make) is required');
  if (out.cache !== undefined && out.mode !== 'overlay') throw new Usage('--cache only applies with --overlay');
  return out;
}

function setDest(out: CreateArgs, value: string): void {
  if (out.dest !== undefined) throw new Usage(`one DEST only (got "${out.dest}" and "${value}")`);
  out.dest = value;
}

export async function bundleCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '-h' || sub === '--help' || sub === 'help') {
    process[sub === undefined ? 'stderr' : 'stdout'].write(USAGE);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== 'create') {
    process.stderr.write(`tsrun bundle: unknown subcommand "${sub}"\n${USAGE}`);
    return 2;
  }
  if (rest.includes('-h') || rest.includes('--help')) {
    process.stdout.write(USAGE);
    return 0;
  }
  let args: CreateArgs;
  try {
    args = parseCreate(rest);
  } catch (e) {
    if (!(e instanceof Usage)) throw e;
    process.stderr.write(`tsrun bundle create: ${e.message}\n${USAGE}`);
    return 2;
  }
  try {
    await createBundle({ image: args.image!, tag: args.tag, dest: args.dest!, mode: args.mode ?? 'unpack', cacheRoot: args.cache });
    return 0;
  } catch (e) {
    process.stderr.write(`tsrun bundle create: ${(e as Error).message}\n`);
    return 1;
  }
}
