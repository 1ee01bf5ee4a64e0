import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { DatasetError } from '../../src/errors.js';
import { DEBIAN_DIR, decodedCacheDir, FASHION_FILES, loadFashionMnist, loadFashionMnistDir, locateFashionMnist, streamFashionFile, type StreamedFrom } from '../../src/data/fashion-mnist.js';
import { existsSync, readdirSync } from 'node:fs';

const names = Object.values(FASHION_FILES).map((f) => f.name);
function fakeDir(root: string, name: string, suffix = '.gz'): string {
  const d = join(root, name);
  mkdirSync(d, { recursive: true });
  for (const n of names) writeFileSync(join(d, n + suffix), 'x');
  return d;
}

/** Run `fn` with a dead upstream URL and a PATH where apt-get does not exist. */
async function withoutApt(fn: () => Promise<void>, url = 'http://127.0.0.1:9/'): Promise<void> {
  const path = process.env['PATH'];
  process.env['PATH'] = mkdtempSync(join(tmpdir(), 'hpo-nopath-'));
  process.env['HPO_FASHION_MNIST_URL'] = url;
  try {
    await fn();
  } finally {
    process.env['PATH'] = path;
    delete process.env['HPO_FASHION_MNIST_URL'];
  }
}

describe('locating Fashion-MNIST', () => {
  const root = mkdtempSync(join(tmpdir(), 'hpo-locate-'));
  const flag = fakeDir(root, 'flag');
  const env = fakeDir(root, 'env', '');
  const local = fakeDir(join(root, 'cwd', 'data'), 'fashion-mnist');
  const fallbacks = [{ dir: local, source: 'local' as const }];

  it('prefers --data-dir, then HPO_DATA_DIR, then ./data/fashion-mnist', () => {
    assert.deepEqual(locateFashionMnist({ dataDir: flag, env: { HPO_DATA_DIR: env }, fallbacks }), { dir: flag, source: 'flag' });
    assert.deepEqual(locateFashionMnist({ env: { HPO_DATA_DIR: env }, fallbacks }), { dir: env, source: 'env' });
    assert.deepEqual(locateFashionMnist({ env: {}, cwd: join(root, 'cwd') }), { dir: local, source: 'local' });
    assert.equal(locateFashionMnist({ env: {}, fallbacks: [] }), undefined);
  });

  it('accepts a parent directory holding fashion-mnist/', () => {
    assert.deepEqual(locateFashionMnist({ env: { HPO_DATA_DIR: join(root, 'cwd', 'data') }, fallbacks: [] }), { dir: local, source: 'env' });
  });

  it('an explicit directory without the files is an error naming what is missing', () => {
    const empty = join(root, 'empty');
    mkdirSync(empty);
    assert.throws(() => locateFashionMnist({ dataDir: empty, env: {} }), (e: unknown) => e instanceof DatasetError && /--data-dir .*missing train-images-idx3-ubyte/.test(e.message));
  });

  it('without a copy, without network and without apt-get, names both ways to get it', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'hpo-nodata-'));
    await withoutApt(async () => {
      await assert.rejects(
        loadFashionMnist({ env: {}, cwd, fallbacks: [] }),
        (e: unknown) =>
          e instanceof DatasetError &&
          /apt-get install dataset-fashion-mnist/.test(e.message) &&
          /download failed/.test(e.message) &&
          /cannot fetch Debian's dataset-fashion-mnist: apt-get is not installed/.test(e.message),
      );
    });
  });
});

describe('decoding Fashion-MNIST', { skip: !existsSync(DEBIAN_DIR) && 'needs apt-get install dataset-fashion-mnist' }, () => {
  it('decodes the real files into shared memory', () => {
    const d = loadFashionMnistDir(DEBIAN_DIR, 'debian');
    assert.equal(d.nTrain, 60000);
    assert.equal(d.nTest, 10000);
    assert.ok(d.trainImages instanceof SharedArrayBuffer);
    assert.equal(d.trainImages.byteLength, 60000 * 784);
    const labels = new Uint8Array(d.testLabels);
    const counts = new Array<number>(10).fill(0);
    for (const l of labels) counts[l]!++;
    assert.deepEqual(counts, new Array<number>(10).fill(1000)); // the test set is balanced
  });

  it('detects truncated and wrong files', () => {
    const root = mkdtempSync(join(tmpdir(), 'hpo-bad-'));
    for (const n of names) copyFileSync(join(DEBIAN_DIR, n + '.gz'), join(root, n + '.gz'));
    const labels = join(root, 't10k-labels-idx1-ubyte.gz');
    const good = readFileSync(labels);
    writeFileSync(labels, good.subarray(0, good.length - 100));
    assert.throws(() => loadFashionMnistDir(root, 'flag'), /t10k-labels-idx1-ubyte\.gz is truncated or corrupt/);
    const raw = Buffer.alloc(10008);
    raw.writeUInt32BE(2049, 0);
    raw.writeUInt32BE(10000, 4);
    writeFileSync(labels, gzipSync(raw));
    assert.throws(() => loadFashionMnistDir(root, 'flag'), /does not match the published Fashion-MNIST/);
  });
});

describe('downloading Fashion-MNIST', { skip: !existsSync(DEBIAN_DIR) && 'needs apt-get install dataset-fashion-mnist (served as the download source)' }, () => {
  // A local server stands in for the published location (HPO_FASHION_MNIST_URL).
  async function serve(corrupt?: string): Promise<{ url: string; close: () => Promise<void> }> {
    const { createServer } = await import('node:http');
    const server = createServer((req, res) => {
      const name = (req.url ?? '/').slice(1);
      if (!names.some((n) => n + '.gz' === name)) {
        res.writeHead(404).end();
        return;
      }
      let body = readFileSync(join(DEBIAN_DIR, name));
      if (name === corrupt) body = body.subarray(0, body.length >> 1);
      res.writeHead(200, { 'content-length': body.length }).end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    return { url: `http://127.0.0.1:${port}/`, close: () => new Promise((r) => server.close(() => r())) };
  }

  it('downloads into ./data/fashion-mnist and verifies the files', async () => {
    const srv = await serve();
    const cwd = mkdtempSync(join(tmpdir(), 'hpo-dl-'));
    process.env['HPO_FASHION_MNIST_URL'] = srv.url;
    try {
      const d = await loadFashionMnist({ env: {}, cwd, fallbacks: [] });
      assert.equal(d.source, 'download');
      assert.equal(d.dir, join(cwd, 'data', 'fashion-mnist'));
      assert.equal(d.nTrain, 60000);
      for (const n of names) assert.ok(existsSync(join(cwd, 'data', 'fashion-mnist', n + '.gz')));
    } finally {
      delete process.env['HPO_FASHION_MNIST_URL'];
      await srv.close();
    }
  });

  it('a truncated download is reported and not kept', async () => {
    const srv = await serve('train-labels-idx1-ubyte.gz');
    const cwd = mkdtempSync(join(tmpdir(), 'hpo-dlbad-'));
    try {
      // Without apt-get, so that the Debian fallback does not hide the bad download.
      await withoutApt(async () => {
        await assert.rejects(loadFashionMnist({ env: {}, cwd, fallbacks: [] }), (e: unknown) => e instanceof DatasetError && /truncated or corrupt/.test(e.message));
      }, srv.url);
      const { readdirSync } = await import('node:fs');
      assert.deepEqual(readdirSync(join(cwd, 'data', 'fashion-mnist')).filter((f) => f.includes('train-labels')), [], 'the bad file was not kept');
    } finally {
      await srv.close();
    }
  });
});

const APT_TOOLS = ['/usr/bin/apt-get', '/usr/bin/dpkg-deb'].every((p) => existsSync(p));

describe("falling back to Debian's package", { skip: !APT_TOOLS && 'needs apt-get and dpkg-deb (Debian or Ubuntu)' }, () => {
  // For real: apt-get download from the configured Debian archive, no root needed.
  it('fetches dataset-fashion-mnist with apt-get download when the upstream download fails', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'hpo-apt-'));
    process.env['HPO_FASHION_MNIST_URL'] = 'http://127.0.0.1:9/';
    try {
      const d = await loadFashionMnist({ env: {}, cwd, fallbacks: [] });
      assert.equal(d.source, 'debian-package');
      assert.equal(d.dir, join(cwd, 'data', 'fashion-mnist-deb'));
      assert.equal(d.nTrain, 60000);
      assert.match(readFileSync(join(d.dir, 'SOURCE'), 'utf8'), /^Debian package dataset-fashion-mnist_.*\.deb/);
      assert.deepEqual(readdirSync(join(cwd, 'data')), ['fashion-mnist-deb'], 'no work directory or empty download directory left behind');
      // The next run finds it without apt-get, before the system-wide copy.
      assert.deepEqual(locateFashionMnist({ env: {}, cwd }), { dir: d.dir, source: 'debian-package' });
    } finally {
      delete process.env['HPO_FASHION_MNIST_URL'];
    }
  });

  it('fetches its own package lists when the machine has none (a fresh container)', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'hpo-apt-fresh-'));
    // APT_CONFIG points apt at an empty list directory, as on a container never updated.
    const conf = join(cwd, 'apt.conf');
    mkdirSync(join(cwd, 'empty-lists', 'partial'), { recursive: true });
    writeFileSync(conf, `Dir::State::Lists "${join(cwd, 'empty-lists')}";\n`);
    process.env['APT_CONFIG'] = conf;
    process.env['HPO_FASHION_MNIST_URL'] = 'http://127.0.0.1:9/';
    try {
      const d = await loadFashionMnist({ env: {}, cwd, fallbacks: [] });
      assert.equal(d.source, 'debian-package');
      assert.equal(d.nTest, 10000);
    } finally {
      delete process.env['APT_CONFIG'];
      delete process.env['HPO_FASHION_MNIST_URL'];
    }
  });
});

describe('decompressed copies (the decode cache)', () => {
  const have = existsSync(join(DEBIAN_DIR, FASHION_FILES.testImages.name + '.gz'));
  /** Streams the test images of `dir` with `cache`; returns where they came from and their bytes. */
  async function stream(dir: string, cache: string | null): Promise<{ from: StreamedFrom; bytes: Buffer }> {
    const bytes = Buffer.alloc(FASHION_FILES.testImages.bytes - 16);
    const from = await streamFashionFile(dir, 'testImages', (b, offset) => bytes.set(b, offset), cache);
    return { from, bytes };
  }

  it('writes a verified copy on the first read, reads it after, and replaces a corrupt one', { skip: !have && 'needs dataset-fashion-mnist' }, async () => {
    const cache = join(mkdtempSync(join(tmpdir(), 'hpo-cache-')), 'fashion-mnist');
    const first = await stream(DEBIAN_DIR, cache);
    assert.equal(first.from, 'gz-cached');
    const copy = join(cache, FASHION_FILES.testImages.name);
    assert.equal(readFileSync(copy).length, FASHION_FILES.testImages.bytes);
    assert.deepEqual(readdirSync(cache).sort(), [FASHION_FILES.testImages.name, FASHION_FILES.testImages.name + '.source'], 'no temporary file left behind');
    const second = await stream(DEBIAN_DIR, cache);
    assert.equal(second.from, 'cache');
    assert.ok(second.bytes.equals(first.bytes));
    // One flipped pixel: the copy fails its SHA-256, is dropped, and the .gz is read again.
    const bad = readFileSync(copy);
    bad[5000] = bad[5000]! ^ 1;
    writeFileSync(copy, bad);
    const third = await stream(DEBIAN_DIR, cache);
    assert.equal(third.from, 'gz-cached');
    assert.ok(third.bytes.equals(first.bytes), 'the bytes passed on are the published ones');
    assert.equal((await stream(DEBIAN_DIR, cache)).from, 'cache');
    // A copy stands for the .gz it came from: a truncated .gz elsewhere is not masked by it.
    const other = mkdtempSync(join(tmpdir(), 'hpo-gz-'));
    const gz = readFileSync(join(DEBIAN_DIR, FASHION_FILES.testImages.name + '.gz'));
    writeFileSync(join(other, FASHION_FILES.testImages.name + '.gz'), gz.subarray(0, gz.length >> 1));
    await assert.rejects(stream(other, cache), (e: unknown) => e instanceof DatasetError && /truncated or corrupt/.test(e.message));
    assert.equal((await stream(DEBIAN_DIR, cache)).from, 'cache', "the failed decode left the good .gz's copy in place");
  });

  it('runs without a copy when the cache cannot be written, or is off', { skip: !have && 'needs dataset-fashion-mnist' }, async () => {
    const root = mkdtempSync(join(tmpdir(), 'hpo-cache-'));
    const blocker = join(root, 'file');
    writeFileSync(blocker, 'not a folder');
    const r = await stream(DEBIAN_DIR, join(blocker, 'fashion-mnist'));
    assert.equal(r.from, 'gz');
    assert.equal((await stream(DEBIAN_DIR, null)).from, 'gz');
    assert.equal(decodedCacheDir({ HPO_CACHE_DIR: 'off' }), undefined);
    assert.equal(decodedCacheDir({ HPO_CACHE_DIR: '/x' }), join('/x', 'fashion-mnist'));
    assert.equal(decodedCacheDir({ XDG_CACHE_HOME: '/c', HOME: '/h' }), join('/c', 'tfjs-hpo', 'fashion-mnist'));
    assert.equal(decodedCacheDir({ HOME: '/h' }), join('/h', '.cache', 'tfjs-hpo', 'fashion-mnist'));
  });

  it('a file that is not compressed is read as it is, never copied', { skip: !have && 'needs dataset-fashion-mnist' }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hpo-raw-'));
    writeFileSync(join(dir, FASHION_FILES.testImages.name), gunzipSync(readFileSync(join(DEBIAN_DIR, FASHION_FILES.testImages.name + '.gz'))));
    const cache = join(dir, 'cache');
    assert.equal((await stream(dir, cache)).from, 'file');
    assert.equal(existsSync(cache), false);
  });
});
