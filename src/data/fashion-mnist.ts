import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { createGunzip, gunzipSync } from 'node:zlib';
import { DatasetError, errorMessage } from '../errors.js';

/** The four standard IDX files, with the SHA-256 of their DECOMPRESSED contents (so that
 *  a re-gzipped copy, like Debian's, verifies the same as the original download). */
export const FASHION_FILES = {
  trainImages: { name: 'train-images-idx3-ubyte', bytes: 47040016, count: 60000, sha256: 'c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888' },
  trainLabels: { name: 'train-labels-idx1-ubyte', bytes: 60008, count: 60000, sha256: 'bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9' },
  testImages: { name: 't10k-images-idx3-ubyte', bytes: 7840016, count: 10000, sha256: '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b' },
  testLabels: { name: 't10k-labels-idx1-ubyte', bytes: 10008, count: 10000, sha256: '0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34' },
} as const;
type FileKey = keyof typeof FASHION_FILES;
/** Which of the four files: trainImages, trainLabels, testImages, testLabels. */
export type FashionFileKey = FileKey;
const KEYS = Object.keys(FASHION_FILES) as FileKey[];

/** Where the original files are published; HPO_FASHION_MNIST_URL overrides it (mirrors, tests). */
export const DEFAULT_DOWNLOAD_URL = 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/';
export const DEBIAN_DIR = '/usr/share/datasets/fashion-mnist';
/** Debian's package of the dataset, fetched without root when the upstream download fails. */
export const DEBIAN_PACKAGE = 'dataset-fashion-mnist';
/** Where that package's files are kept, relative to the working directory. */
export const DEB_CACHE_DIR = 'data/fashion-mnist-deb';
export const IMAGE_PIXELS = 784;

export type DatasetSource = 'flag' | 'env' | 'local' | 'debian' | 'download' | 'debian-package';

/** Where the files came from, for the run's start line and hpo info. */
export function describeSource(source: DatasetSource): string {
  switch (source) {
    case 'flag':
      return '--data-dir';
    case 'env':
      return 'HPO_DATA_DIR';
    case 'local':
      return './data/fashion-mnist';
    case 'debian':
      return `the installed Debian package ${DEBIAN_PACKAGE}`;
    case 'download':
      return 'downloaded from the published location';
    case 'debian-package':
      return `Debian's ${DEBIAN_PACKAGE}, fetched with apt-get download`;
  }
}

/**
 * Fashion-MNIST decoded into SharedArrayBuffers: every worker thread gets views on the same
 * memory (no per-thread or per-trial copy of the raw pixels).
 */
export interface SharedFashionMnist {
  readonly trainImages: SharedArrayBuffer; // nTrain * 784 uint8, row-major
  readonly trainLabels: SharedArrayBuffer; // nTrain uint8
  readonly testImages: SharedArrayBuffer;
  readonly testLabels: SharedArrayBuffer;
  readonly nTrain: number;
  readonly nTest: number;
  readonly dir: string;
  readonly source: DatasetSource;
}

export interface LocateOptions {
  dataDir?: string | undefined;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Directories tried after the flag and env (default ./data/fashion-mnist, then Debian's). */
  fallbacks?: readonly { dir: string; source: DatasetSource }[];
}

function fileIn(dir: string, key: FileKey): string | undefined {
  const base = join(dir, FASHION_FILES[key].name);
  if (existsSync(base)) return base;
  if (existsSync(base + '.gz')) return base + '.gz';
  return undefined;
}

function hasAll(dir: string): boolean {
  return KEYS.every((k) => fileIn(dir, k) !== undefined);
}

/**
 * Find the dataset in order: `--data-dir`, HPO_DATA_DIR, ./data/fashion-mnist,
 * ./data/fashion-mnist-deb (an earlier apt-get download), /usr/share/datasets/fashion-mnist. A directory named explicitly (flag or env) that lacks
 * the files is an error, not a silent fall-through.
 */
export function locateFashionMnist(opts: LocateOptions = {}): { dir: string; source: DatasetSource } | undefined {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const explicit: [string | undefined, DatasetSource, string][] = [
    [opts.dataDir, 'flag', '--data-dir'],
    [env['HPO_DATA_DIR'], 'env', 'HPO_DATA_DIR'],
  ];
  for (const [dir, source, what] of explicit) {
    if (dir === undefined || dir === '') continue;
    const abs = resolve(cwd, dir);
    if (hasAll(abs)) return { dir: abs, source };
    // A parent holding fashion-mnist/ is accepted too (HPO_DATA_DIR=./data).
    if (hasAll(join(abs, 'fashion-mnist'))) return { dir: join(abs, 'fashion-mnist'), source };
    const missing = KEYS.filter((k) => fileIn(abs, k) === undefined).map((k) => FASHION_FILES[k].name);
    throw new DatasetError(`${what} ${abs} does not hold Fashion-MNIST (missing ${missing.join(', ')}[.gz])`);
  }
  const fallbacks = opts.fallbacks ?? [
    { dir: resolve(cwd, 'data/fashion-mnist'), source: 'local' as const },
    { dir: resolve(cwd, DEB_CACHE_DIR), source: 'debian-package' as const },
    { dir: DEBIAN_DIR, source: 'debian' as const },
  ];
  for (const f of fallbacks) if (hasAll(f.dir)) return f;
  return undefined;
}

/** Read, decompress, verify and decode one file. */
function readIdx(path: string, key: FileKey): Uint8Array {
  const spec = FASHION_FILES[key];
  let raw: Buffer;
  try {
    raw = readFileSync(path);
    // One output chunk of the expected size: the default 64 KiB chunks (740 of them for
    // the training images) land in the malloc arena of the decoding thread, which keeps
    // the freed memory resident for the life of the process.
    if (path.endsWith('.gz')) raw = gunzipSync(raw, { chunkSize: Math.max(64 * 1024, spec.bytes + 1) });
  } catch (e) {
    throw new DatasetError(`${path} is truncated or corrupt: ${errorMessage(e)}`);
  }
  if (raw.length !== spec.bytes) {
    throw new DatasetError(`${path} is truncated or corrupt: ${raw.length} bytes, expected ${spec.bytes}`);
  }
  const digest = createHash('sha256').update(raw).digest('hex');
  if (digest !== spec.sha256) {
    throw new DatasetError(`${path} does not match the published Fashion-MNIST (sha256 ${digest.slice(0, 12)}..., expected ${spec.sha256.slice(0, 12)}...)`);
  }
  const isImages = key === 'trainImages' || key === 'testImages';
  const header = isImages ? 16 : 8;
  const magic = raw.readUInt32BE(0);
  if (magic !== (isImages ? 2051 : 2049) || raw.readUInt32BE(4) !== spec.count) {
    throw new DatasetError(`${path}: bad IDX header`);
  }
  return raw.subarray(header);
}

function toShared(bytes: Uint8Array): SharedArrayBuffer {
  const sab = new SharedArrayBuffer(bytes.length);
  new Uint8Array(sab).set(bytes);
  return sab;
}

/**
 * One file of `dir`, read, decompressed, checked (size, SHA-256, header; labels in 0..9)
 * and returned without its IDX header.
 * @throws DatasetError naming the file when it is missing, truncated or not the published one
 */
export function readFashionFile(dir: string, key: FashionFileKey): Uint8Array {
  const path = fileIn(dir, key);
  if (path === undefined) throw new DatasetError(`${dir}: ${FASHION_FILES[key].name} is missing`);
  const bytes = readIdx(path, key);
  if ((key === 'trainLabels' || key === 'testLabels') && bytes.some((l) => l > 9)) {
    throw new DatasetError(`${dir}: ${FASHION_FILES[key].name} holds labels outside 0..9`);
  }
  return bytes;
}

/**
 * Where decompressed copies of the image files are kept so that later runs skip gunzip
 * (about 0.4 s of CPU for the training images, on every `hpo run`): `HPO_CACHE_DIR`, else
 * $XDG_CACHE_HOME/tfjs-hpo, else ~/.cache/tfjs-hpo; `HPO_CACHE_DIR=off` keeps none. The
 * copies are the published IDX files byte for byte (55 MB), checked against the same
 * SHA-256 as the originals every time they are read.
 */
export function decodedCacheDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const set = env['HPO_CACHE_DIR'];
  if (set === 'off') return undefined;
  const base = set || (env['XDG_CACHE_HOME'] ? join(env['XDG_CACHE_HOME'], 'tfjs-hpo') : env['HOME'] ? join(env['HOME'], '.cache', 'tfjs-hpo') : undefined);
  return base === undefined ? undefined : join(base, 'fashion-mnist');
}

/** Where {@link streamFashionFile} read a file from. */
export type StreamedFrom = 'file' | 'cache' | 'gz-cached' | 'gz';

/**
 * Streams one file of `dir` through `onData` (payload bytes after the IDX header, with
 * their offset), decompressing as it goes, so that no whole-file buffer ever exists:
 * converting the 47 MB of training images this way leaves small chunks behind instead
 * of 75 MB of file and decompression buffers. The size, SHA-256 and header are checked
 * as the bytes pass and at the end, with the same errors as {@link readFashionFile}; on
 * an error, whatever `onData` already received must be discarded.
 *
 * A compressed file is read from its decompressed copy in `cache` (default
 * {@link decodedCacheDir}; null: none) when there is one made from that very file (a
 * copy that fails the checks is deleted and the .gz read instead, every byte passed to
 * `onData` again), and the copy is written as the .gz is decoded when there is none
 * (best effort: a cache that cannot be written changes nothing). Returns where the bytes
 * came from: the file as it is (not compressed), the cache, the .gz (with the copy
 * written), or the .gz alone.
 * @throws DatasetError naming the file when it is missing, truncated or not the published one
 */
export async function streamFashionFile(
  dir: string,
  key: FashionFileKey,
  onData: (bytes: Uint8Array, offset: number) => void,
  cache: string | null = decodedCacheDir() ?? null,
): Promise<StreamedFrom> {
  const spec = FASHION_FILES[key];
  const path = fileIn(dir, key);
  if (path === undefined) throw new DatasetError(`${dir}: ${spec.name} is missing`);
  if (!path.endsWith('.gz')) {
    await streamIdx(path, key, onData);
    return 'file';
  }
  if (cache === null) {
    await streamIdx(path, key, onData);
    return 'gz';
  }
  const copy = join(cache, spec.name);
  // The copy stands for the .gz it was decoded from (path, size, modification time): a
  // different or changed .gz is decoded, checked and copied again.
  const source = sourceStamp(path);
  if (sizeOf(copy) === spec.bytes && readStamp(copy) === source) {
    try {
      await streamIdx(copy, key, onData);
      return 'cache';
    } catch (e) {
      if (!(e instanceof DatasetError)) throw e;
      rmSync(copy, { force: true });
    }
  }
  const writer = CacheWriter.open(cache, copy);
  try {
    await streamIdx(path, key, onData, writer);
  } catch (e) {
    writer?.abandon();
    throw e;
  }
  return writer?.commit(source) ? 'gz-cached' : 'gz';
}

/** What identifies a compressed file for its copy: absolute path, size and mtime. */
function sourceStamp(path: string): string {
  try {
    const st = statSync(path);
    return JSON.stringify({ path: resolve(path), size: st.size, mtimeMs: st.mtimeMs });
  } catch {
    return '';
  }
}

/** The stamp a copy was written with ('' when there is none). */
function readStamp(copy: string): string {
  try {
    return readFileSync(`${copy}.source`, 'utf8');
  } catch {
    return '';
  }
}

/** A file's size, or undefined when it cannot be read (missing, or a path through a file). */
function sizeOf(path: string): number | undefined {
  try {
    return statSync(path).size;
  } catch {
    return undefined;
  }
}

/** A decompressed copy being written: a temporary file renamed into place once verified. */
class CacheWriter {
  private constructor(
    private fd: number | undefined,
    private readonly tmp: string,
    private readonly dest: string,
  ) {}

  /** A writer, or undefined when the cache folder cannot be made or written. */
  static open(dir: string, dest: string): CacheWriter | undefined {
    try {
      mkdirSync(dir, { recursive: true });
      const tmp = `${dest}.tmp-${process.pid}-${Date.now()}`;
      return new CacheWriter(openSync(tmp, 'w'), tmp, dest);
    } catch {
      return undefined;
    }
  }

  /** Appends raw file bytes; a failed write abandons the copy (the run goes on). */
  write(bytes: Uint8Array): void {
    if (this.fd === undefined) return;
    try {
      writeSync(this.fd, bytes);
    } catch {
      this.abandon();
    }
  }

  /**
   * Moves the verified copy into place with the stamp of the file it was decoded from
   * (each renamed into place, so a reader sees a whole copy and a whole stamp); false when
   * it was abandoned or cannot be moved.
   */
  commit(stamp: string): boolean {
    if (this.fd === undefined) return false;
    try {
      closeSync(this.fd);
      this.fd = undefined;
      renameSync(this.tmp, this.dest);
      writeFileSync(this.tmp, stamp);
      renameSync(this.tmp, `${this.dest}.source`);
      return true;
    } catch {
      this.abandon();
      return false;
    }
  }

  abandon(): void {
    if (this.fd !== undefined) {
      try {
        closeSync(this.fd);
      } catch {
        // already closed
      }
    }
    this.fd = undefined;
    rmSync(this.tmp, { force: true });
  }
}

/** Streams, checks and passes on one IDX file (compressed or not); `copy` gets its raw bytes. */
async function streamIdx(path: string, key: FashionFileKey, onData: (bytes: Uint8Array, offset: number) => void, copy?: CacheWriter): Promise<void> {
  const spec = FASHION_FILES[key];
  const isImages = key === 'trainImages' || key === 'testImages';
  const headerBytes = isImages ? 16 : 8;
  const header = Buffer.alloc(headerBytes);
  const hash = createHash('sha256');
  let total = 0;
  try {
    // Uncompressed files in 1 MiB reads: each read is a hop to libuv's thread pool.
    const gz = path.endsWith('.gz');
    const file = createReadStream(path, gz ? {} : { highWaterMark: 1 << 20 });
    const source = gz ? file.pipe(createGunzip()) : file;
    file.on('error', (e) => source.destroy(e));
    for await (const chunk of source as AsyncIterable<Buffer>) {
      hash.update(chunk);
      copy?.write(chunk);
      let from = 0;
      if (total < headerBytes) {
        from = Math.min(chunk.length, headerBytes - total);
        chunk.copy(header, total, 0, from);
        if (total + from === headerBytes && (header.readUInt32BE(0) !== (isImages ? 2051 : 2049) || header.readUInt32BE(4) !== spec.count)) {
          throw new DatasetError(`${path}: bad IDX header`);
        }
      }
      const payloadOffset = total + from - headerBytes;
      total += chunk.length;
      if (total > spec.bytes) throw new DatasetError(`${path} is truncated or corrupt: more than the expected ${spec.bytes} bytes`);
      if (from < chunk.length) onData(chunk.subarray(from), payloadOffset);
    }
  } catch (e) {
    if (e instanceof DatasetError) throw e;
    throw new DatasetError(`${path} is truncated or corrupt: ${errorMessage(e)}`);
  }
  if (total !== spec.bytes) throw new DatasetError(`${path} is truncated or corrupt: ${total} bytes, expected ${spec.bytes}`);
  const digest = hash.digest('hex');
  if (digest !== spec.sha256) {
    throw new DatasetError(`${path} does not match the published Fashion-MNIST (sha256 ${digest.slice(0, 12)}..., expected ${spec.sha256.slice(0, 12)}...)`);
  }
}

/** Decode the four files of `dir` into shared memory, checking sizes and checksums. */
export function loadFashionMnistDir(dir: string, source: DatasetSource): SharedFashionMnist {
  const parts = {} as Record<FileKey, SharedArrayBuffer>;
  for (const key of KEYS) parts[key] = toShared(readFashionFile(dir, key));
  return {
    ...parts,
    nTrain: FASHION_FILES.trainLabels.count,
    nTest: FASHION_FILES.testLabels.count,
    dir,
    source,
  };
}

/**
 * Download the four .gz files into `dest`, verify them, and only then move them into place.
 * @throws DatasetError when the network is unreachable or a file does not verify.
 */
export async function downloadFashionMnist(dest: string, baseUrl: string = process.env['HPO_FASHION_MNIST_URL'] ?? DEFAULT_DOWNLOAD_URL): Promise<void> {
  mkdirSync(dest, { recursive: true });
  for (const key of KEYS) {
    const name = FASHION_FILES[key].name + '.gz';
    const url = new URL(name, baseUrl.endsWith('/') ? baseUrl : baseUrl + '/').href;
    let body: Buffer;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(120_000) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      body = Buffer.from(await res.arrayBuffer());
    } catch (e) {
      throw new DatasetError(`cannot download ${url}: ${errorMessage(e)}`, { cause: e });
    }
    const tmp = join(dest, `.partial-${name}`); // keeps the .gz suffix readIdx looks at
    writeFileSync(tmp, body);
    try {
      readIdx(tmp, key); // verifies before anything is moved into place
    } catch (e) {
      rmSync(tmp, { force: true });
      throw new DatasetError(`${url}: ${errorMessage(e).replace(`${tmp} `, '')}`);
    }
    renameSync(tmp, join(dest, name));
  }
}

const execFileP = promisify(execFile);

/** Run a command; its stderr's last line is the error message. */
async function runTool(cmd: string, args: readonly string[], cwd: string): Promise<void> {
  try {
    await execFileP(cmd, args, { cwd, env: { ...process.env, LC_ALL: 'C' }, timeout: 600_000, maxBuffer: 16 << 20 });
  } catch (e) {
    const err = e as { code?: unknown; stderr?: string };
    if (err.code === 'ENOENT') throw new Error(`${cmd} is not installed`);
    const last = (err.stderr ?? '').trim().split('\n').filter((l) => l.trim() !== '').pop();
    throw new Error(`${cmd} ${args.join(' ')}: ${last ?? errorMessage(e)}`);
  }
}

/**
 * Fetch Debian's dataset-fashion-mnist with `apt-get download` (no root needed) and
 * unpack it with `dpkg-deb -x` into `dest`, which then holds the four .gz files (checked
 * by SHA-256 when they are loaded, like any other copy). apt-get checks the package
 * against the archive's signed index. When the machine's package lists are empty (a
 * fresh container), a private copy of the lists is fetched into `dest` first, still
 * without root.
 * @throws DatasetError when apt-get or dpkg-deb is missing or fails.
 */
export async function fetchDebianPackage(dest: string): Promise<void> {
  const parent = resolve(dest, '..');
  mkdirSync(parent, { recursive: true });
  const work = mkdtempSync(join(parent, '.fashion-mnist-deb-'));
  try {
    try {
      await runTool('apt-get', ['-q', 'download', DEBIAN_PACKAGE], work);
    } catch (first) {
      if (/not installed/.test(errorMessage(first))) throw first;
      const lists = join(work, 'lists');
      const cache = join(work, 'cache');
      mkdirSync(join(lists, 'partial'), { recursive: true });
      mkdirSync(join(cache, 'archives', 'partial'), { recursive: true });
      const own = ['-q', '-o', `Dir::State::Lists=${lists}`, '-o', `Dir::Cache=${cache}`, '-o', 'Debug::NoLocking=1'];
      try {
        await runTool('apt-get', [...own, 'update'], work);
        await runTool('apt-get', [...own, 'download', DEBIAN_PACKAGE], work);
      } catch (second) {
        throw new Error(`${errorMessage(first)}; with fresh package lists: ${errorMessage(second)}`);
      }
    }
    const deb = readdirSync(work).find((f) => f.startsWith(`${DEBIAN_PACKAGE}_`) && f.endsWith('.deb'));
    if (deb === undefined) throw new Error('apt-get download produced no .deb');
    await runTool('dpkg-deb', ['-x', deb, 'root'], work);
    const inside = join(work, 'root', DEBIAN_DIR);
    if (!hasAll(inside)) throw new Error(`${deb} does not hold the four IDX files under ${DEBIAN_DIR}`);
    writeFileSync(join(inside, 'SOURCE'), `Debian package ${deb}, fetched with apt-get download and unpacked with dpkg-deb -x\n`);
    rmSync(dest, { recursive: true, force: true });
    renameSync(inside, dest); // only a complete copy ever appears at dest
  } catch (e) {
    throw new DatasetError(`cannot fetch Debian's ${DEBIAN_PACKAGE}: ${errorMessage(e)}`, { cause: e });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export function notFoundMessage(cwd: string): string {
  return (
    `Fashion-MNIST not found (looked in --data-dir, HPO_DATA_DIR, ${resolve(cwd, 'data/fashion-mnist')}, ${resolve(cwd, DEB_CACHE_DIR)}, ${DEBIAN_DIR}) ` +
    `and the download failed: install the Debian package (apt-get install ${DEBIAN_PACKAGE}) ` +
    `or put the four IDX files (.gz or not) in one of those places`
  );
}

/**
 * Locate the dataset (see locateFashionMnist); when none is found, download it into
 * ./data/fashion-mnist, or if that fails fetch Debian's package into
 * ./data/fashion-mnist-deb. Then decode it into shared memory; `source` says which.
 */
export async function loadFashionMnist(opts: LocateOptions & { download?: boolean } = {}): Promise<SharedFashionMnist> {
  const found = await ensureFashionMnist(opts);
  return loadFashionMnistDir(found.dir, found.source);
}

/**
 * Locate the dataset (see locateFashionMnist); when none is found, download it into
 * ./data/fashion-mnist, or if that fails fetch Debian's package into
 * ./data/fashion-mnist-deb. Returns where the four files are, without decoding them.
 */
export async function ensureFashionMnist(opts: LocateOptions & { download?: boolean } = {}): Promise<{ dir: string; source: DatasetSource }> {
  const cwd = opts.cwd ?? process.cwd();
  const found = locateFashionMnist(opts);
  if (found) return found;
  if (opts.download === false) throw new DatasetError(notFoundMessage(cwd));
  const dest = resolve(cwd, 'data/fashion-mnist');
  try {
    await downloadFashionMnist(dest); // verifies every file before moving it into place
    return { dir: dest, source: 'download' };
  } catch (upstream) {
    // Leave no empty ./data/fashion-mnist behind (it would look like a broken copy).
    try {
      if (readdirSync(dest).length === 0) rmSync(dest, { recursive: true });
    } catch {
      // nothing was created
    }
    // Machines that reach only package registries and Debian's archive get Debian's copy.
    const debDest = resolve(cwd, DEB_CACHE_DIR);
    try {
      await fetchDebianPackage(debDest);
    } catch (apt) {
      throw new DatasetError(`${notFoundMessage(cwd)} (${errorMessage(upstream)}; ${errorMessage(apt)})`, { cause: apt });
    }
    return { dir: debDest, source: 'debian-package' };
  }
}
