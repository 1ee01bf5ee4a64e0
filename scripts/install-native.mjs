#!/usr/bin/env node
// postinstall: make `require('@tensorflow/tfjs-node')` work, online or offline.
//
// 1. If tfjs-node already loads (the official install script downloaded libtensorflow
//    2.9.1 and its prebuilt addon), record that and stop: the official path is untouched.
// 2. Otherwise (no internet: npm dropped the optional dependency after its download
//    failed) rebuild it locally:
//      - restore a previous local build from .cache/ if there is one, else
//      - `npm pack` tfjs-node 4.22.0 and tfjs-node-lambda-releases 1.6.1 (which ships
//        libtensorflow 1.15.0 inside brotli-compressed tars), put the .so files and C
//        headers in tfjs-node's deps/, patch the binding's string-tensor code for the
//        TF 1.15 API (scripts/tf115-binding-patch.mjs) and compile it with node-gyp.
//    Then verify in a child process, write a marker file, and register the package in
//    npm's hidden lockfile so the next `npm install` leaves it alone.
// 3. Build tfjs-hpo's own kernels addon (src/native: a GEMM registered as TF ops) against
//    whichever libtensorflow tfjs-node now has, and check it in a child process. Rebuilt
//    only when its sources or that libtensorflow change.
// 4. Never fail `npm install`: if nothing works, print one warning; the engine then uses
//    the wasm backend (and without the kernels addon, libtensorflow's own MatMul).
//
// Plain Node ESM with built-ins only: this runs before `prepare` compiles TypeScript and
// must not depend on anything npm may have dropped.
//
// Environment: TFJS_HPO_SKIP_NATIVE=1 skips everything; TFJS_HPO_FORCE_NATIVE_BUILD=1
// ignores a working official install and a cached build (for testing the fallback);
// TFJS_HPO_SKIP_KERNELS=1 skips building the kernels addon.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import * as zlib from 'node:zlib';
import { patchTfjsBackendSource } from './tf115-binding-patch.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PKG_DIR = path.join(ROOT, 'node_modules', '@tensorflow', 'tfjs-node');
const CACHE_DIR = path.join(ROOT, '.cache', 'tfjs-native');
/** Marker the backend loader reads (src/training/backend.ts) for `hpo info`. */
const MARKER_NAME = 'tfjs-hpo-native.json';

const TFJS_NODE = {
  spec: '@tensorflow/tfjs-node@4.22.0',
  version: '4.22.0',
  integrity: 'sha512-uHrXeUlfgkMxTZqHkESSV7zSdKdV0LlsBeblqkuKU9nnfxB1pC6DtoyYVaLxznzZy7WQSegjcohxxCjAf6Dc7w==',
};
const LAMBDA = {
  spec: 'tfjs-node-lambda-releases@1.6.1',
  integrity: 'sha512-D275PZpxsKenTuiPnvIE5T+D5JrT4aU9M3EDCedBQKlP0hUB7011Yzg8CAJ6MBIog9Lq90aaEair4yrBBlk61w==',
  // Both archives carry the same libtensorflow 1.15.0; this is the newest tree.
  member: 'package/nodejs12.x-tf2.7.0.br',
  depsPrefix: 'node_modules/@tensorflow/tfjs-node/deps/',
  libtensorflow: '1.15.0',
};

const KERNELS_DIR = path.join(ROOT, 'src', 'native');
const KERNELS_BUILD = path.join(KERNELS_DIR, 'build');
const KERNELS_ADDON = path.join(KERNELS_BUILD, 'Release', 'hpo_kernels.node');
const KERNELS_STAMP = path.join(KERNELS_BUILD, 'tfjs-hpo-kernels.json');

const t0 = Date.now();
const log = (msg) => console.log(`[tfjs-hpo native] ${msg}`);
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`;

// ---------------------------------------------------------------- probing

/**
 * Loads tfjs-node in a fresh process (a broken addon can abort the process) and runs a
 * matMul. Returns what it reported, or the reason it failed.
 */
function probe() {
  const code = `
    process.env.TF_CPP_MIN_LOG_LEVEL = '2';
    const tf = require('@tensorflow/tfjs-node');
    const y = tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[1, 0], [0, 1]])).dataSync();
    const binding = tf.backend().binding;
    console.log(JSON.stringify({ backend: tf.getBackend(), ok: y[3] === 4,
      libtensorflow: binding && binding.TF_Version, tfjs: tf.version.tfjs }));`;
  const r = spawnSync(process.execPath, ['-e', code], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' },
  });
  const line = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  try {
    const info = JSON.parse(line);
    if (info.backend === 'tensorflow' && info.ok) return { ok: true, ...info };
    return { ok: false, reason: `backend ${info.backend}, matMul ok=${info.ok}` };
  } catch {
    const err = `${r.stderr ?? ''}`.split('\n').find((l) => /Error|error:|abort|F tensorflow/.test(l));
    return { ok: false, reason: err?.trim() || (r.signal ? `killed by ${r.signal}` : `exit ${r.status}`) };
  }
}

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

function writeMarker(info) {
  fs.writeFileSync(path.join(PKG_DIR, MARKER_NAME), `${JSON.stringify(info, null, 2)}\n`);
}

// ---------------------------------------------------------------- npm and archives

/** Runs npm (the one running this script when there is one) and returns stdout. */
function npm(args) {
  const cli = process.env.npm_execpath;
  const [cmd, argv] = cli && /\.c?js$/.test(cli) ? [process.execPath, [cli, ...args]] : ['npm', args];
  const r = spawnSync(cmd, argv, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20, timeout: 15 * 60_000 });
  if (r.status !== 0) {
    const why = `${r.stderr ?? ''}`.split('\n').find((l) => /ERR!|error/i.test(l)) ?? `exit ${r.status}`;
    throw new Error(`npm ${args.slice(0, 2).join(' ')} failed: ${why.trim()}`);
  }
  return r.stdout;
}

/** `npm pack` a registry package into CACHE_DIR (reusing it if present and intact). */
function packTarball({ spec, integrity }) {
  const [name, version] = [spec.slice(0, spec.lastIndexOf('@')), spec.slice(spec.lastIndexOf('@') + 1)];
  const file = path.join(CACHE_DIR, `${name.replace(/^@/, '').replace('/', '-')}-${version}.tgz`);
  if (!fs.existsSync(file) || !integrityMatches(file, integrity)) {
    log(`fetching ${spec} with npm pack ...`);
    npm(['pack', spec, '--pack-destination', CACHE_DIR, '--loglevel=error', '--json', '--fetch-retries=1']);
    if (!fs.existsSync(file)) throw new Error(`npm pack ${spec} did not produce ${path.basename(file)}`);
    if (!integrityMatches(file, integrity)) throw new Error(`${path.basename(file)}: integrity mismatch`);
  }
  return file;
}

function integrityMatches(file, integrity) {
  const [algo, want] = integrity.split(/-(.*)/s);
  const hash = createHash(algo);
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.allocUnsafe(1 << 20);
  try {
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) hash.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('base64') === want;
}

/** Streams `src` (optionally a byte range) through a decompressor into `dest`. */
async function decompress(src, dest, decoder, range = {}) {
  await pipeline(fs.createReadStream(src, range), decoder, fs.createWriteStream(dest));
}

/**
 * Minimal tar reader over a file on disk (ustar, GNU long names, pax path/size).
 * Yields { name, type, size, offset, linkname, mode } with the data at `offset`.
 */
function* tarEntries(file) {
  const fd = fs.openSync(file, 'r');
  const header = Buffer.alloc(512);
  let pos = 0;
  let longName;
  let longLink;
  let pax = {};
  try {
    while (fs.readSync(fd, header, 0, 512, pos) === 512) {
      if (header.every((b) => b === 0)) return;
      const str = (a, b) => header.toString('utf8', a, b).replace(/\0.*$/s, '');
      const num = (a, b) => {
        if (header[a] & 0x80) return Number(header.readBigUInt64BE(b - 8));
        return parseInt(str(a, b).trim() || '0', 8);
      };
      const type = String.fromCharCode(header[156] || 0x30);
      let size = num(124, 136);
      const offset = pos + 512;
      pos = offset + Math.ceil(size / 512) * 512;
      const readData = () => {
        const b = Buffer.alloc(size);
        fs.readSync(fd, b, 0, size, offset);
        return b.toString('utf8');
      };
      if (type === 'L') { longName = readData().replace(/\0.*$/s, ''); continue; }
      if (type === 'K') { longLink = readData().replace(/\0.*$/s, ''); continue; }
      if (type === 'x') {
        for (const rec of readData().split('\n')) {
          const m = /^\d+ ([^=]+)=(.*)$/s.exec(rec);
          if (m) pax[m[1]] = m[2];
        }
        continue;
      }
      if (type === 'g') continue;
      const prefix = str(345, 500);
      let name = longName ?? pax.path ?? (prefix ? `${prefix}/${str(0, 100)}` : str(0, 100));
      const linkname = longLink ?? pax.linkpath ?? str(157, 257);
      if (pax.size !== undefined) {
        size = Number(pax.size);
        pos = offset + Math.ceil(size / 512) * 512;
      }
      longName = longLink = undefined;
      pax = {};
      yield { name, type, size, offset, linkname, mode: num(100, 108), fd };
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** Extracts entries whose name starts with `prefix` into `destDir` (prefix stripped). */
function extractTar(file, prefix, destDir, filter = () => true) {
  let count = 0;
  const buf = Buffer.allocUnsafe(1 << 20);
  for (const e of tarEntries(file)) {
    if (!e.name.startsWith(prefix)) continue;
    const rel = e.name.slice(prefix.length).replace(/\/+$/, '');
    if (!rel || !filter(rel)) continue;
    const dest = path.resolve(destDir, rel);
    if (!dest.startsWith(path.resolve(destDir) + path.sep)) throw new Error(`unsafe path in archive: ${e.name}`);
    if (e.type === '5') {
      fs.mkdirSync(dest, { recursive: true });
      continue;
    }
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.rmSync(dest, { force: true });
    if (e.type === '2') {
      fs.symlinkSync(e.linkname, dest);
    } else if (e.type === '0' || e.type === '7') {
      const out = fs.openSync(dest, 'w', (e.mode & 0o777) | 0o600);
      try {
        for (let done = 0; done < e.size; ) {
          const n = fs.readSync(e.fd, buf, 0, Math.min(buf.length, e.size - done), e.offset + done);
          if (n <= 0) throw new Error(`truncated archive: ${e.name}`);
          fs.writeSync(out, buf, 0, n);
          done += n;
        }
      } finally {
        fs.closeSync(out);
      }
    } else {
      continue; // hard links, devices: tfjs-node's trees have none we need
    }
    count++;
  }
  return count;
}

// ---------------------------------------------------------------- the fallback build

function patchHash() {
  const src = fs.readFileSync(path.join(ROOT, 'scripts', 'tf115-binding-patch.mjs'));
  return createHash('sha256').update(src).digest('hex').slice(0, 10);
}

function buildKey() {
  return `tfjs-node-${TFJS_NODE.version}-tf${LAMBDA.libtensorflow}-${process.platform}-${process.arch}-${patchHash()}`;
}

/** Finds node-gyp: npm passes its own in npm_config_node_gyp; else npm's bundled copy. */
function findNodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    process.env.npm_execpath && path.join(path.dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  const found = candidates.find((c) => c && fs.existsSync(c));
  if (!found) throw new Error('node-gyp not found (is npm installed with node?)');
  return found;
}

/** Node's own headers when they are installed next to it (Debian: /usr/include/node). */
function localNodeDir() {
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  return fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}

/** napi version node-pre-gyp's `find` will pick: the highest one both sides support. */
function napiBuildVersion(pkg) {
  const ours = Number(process.versions.napi);
  const theirs = (pkg.binary?.napi_versions ?? []).filter((v) => v <= ours);
  if (theirs.length === 0) throw new Error(`no N-API version in common with Node (${ours})`);
  return Math.max(...theirs);
}

async function buildFromSource(work) {
  // tfjs-node's own files.
  const tfjsNodeTgz = packTarball(TFJS_NODE);
  const tfjsNodeTar = path.join(work, 'tfjs-node.tar');
  await decompress(tfjsNodeTgz, tfjsNodeTar, zlib.createGunzip());
  fs.rmSync(PKG_DIR, { recursive: true, force: true });
  fs.mkdirSync(PKG_DIR, { recursive: true });
  const n = extractTar(tfjsNodeTar, 'package/', PKG_DIR);
  log(`unpacked ${TFJS_NODE.spec} (${n} files)`);

  // libtensorflow 1.15 from tfjs-node-lambda-releases: .tgz -> one .br member -> tar.
  const lambdaTgz = packTarball(LAMBDA);
  const lambdaTar = path.join(work, 'lambda.tar');
  log('decompressing tfjs-node-lambda-releases ...');
  await decompress(lambdaTgz, lambdaTar, zlib.createGunzip());
  const member = [...tarEntries(lambdaTar)].find((e) => e.name === LAMBDA.member);
  if (!member) throw new Error(`${LAMBDA.member} not found in ${LAMBDA.spec}`);
  const treeTar = path.join(work, 'tree.tar');
  await decompress(lambdaTar, treeTar, zlib.createBrotliDecompress(), {
    start: member.offset,
    end: member.offset + member.size - 1,
  });
  fs.rmSync(lambdaTar, { force: true });
  const depsDir = path.join(PKG_DIR, 'deps');
  const nd = extractTar(treeTar, LAMBDA.depsPrefix, depsDir, (rel) => rel.startsWith('lib/') || rel.startsWith('include/') || rel === 'LICENSE');
  fs.rmSync(treeTar, { force: true });
  const lib = path.join(depsDir, 'lib', `libtensorflow.so.${LAMBDA.libtensorflow}`);
  if (!fs.existsSync(lib)) throw new Error(`libtensorflow ${LAMBDA.libtensorflow} missing from ${LAMBDA.spec}`);
  log(`libtensorflow ${LAMBDA.libtensorflow} in place (${nd} files) [${elapsed()}]`);

  // Our patch for the TF 1.15 string-tensor API.
  const cc = path.join(PKG_DIR, 'binding', 'tfjs_backend.cc');
  fs.writeFileSync(cc, patchTfjsBackendSource(fs.readFileSync(cc, 'utf8')));

  // Compile. Variables that node-pre-gyp would pass are given to node-gyp directly so the
  // addon lands where tfjs-node's index.js (node-pre-gyp `find`) looks for it.
  const pkg = readJson(path.join(PKG_DIR, 'package.json'));
  const napi = napiBuildVersion(pkg);
  const modulePath = path.join(PKG_DIR, pkg.binary.module_path.replace('{napi_build_version}', String(napi)));
  const nodeDir = localNodeDir();
  const args = [
    findNodeGyp(), 'rebuild', '--loglevel=error',
    `--jobs=${Math.max(1, Math.min(4, (await import('node:os')).availableParallelism()))}`,
    `--module_name=${pkg.binary.module_name}`, `--module_path=${modulePath}`,
    `--napi_build_version=${napi}`,
    ...(nodeDir ? [`--nodedir=${nodeDir}`] : []),
  ];
  log(`compiling the addon with node-gyp (N-API ${napi}${nodeDir ? `, headers from ${nodeDir}` : ''}) ...`);
  const r = spawnSync(process.execPath, args, { cwd: PKG_DIR, encoding: 'utf8', maxBuffer: 64 << 20, timeout: 15 * 60_000 });
  if (r.status !== 0) {
    const err = `${r.stdout}\n${r.stderr}`.split('\n').find((l) => /error/i.test(l)) ?? `exit ${r.status}`;
    throw new Error(`node-gyp build failed: ${err.trim()}`);
  }
  fs.rmSync(path.join(PKG_DIR, 'build'), { recursive: true, force: true }); // objects: 10+ MB, not needed
  log(`addon built [${elapsed()}]`);
}

/**
 * Adds tfjs-node (as the lockfile describes it) to npm's hidden lockfile, so the next
 * `npm install` trusts node_modules as it is instead of reinstalling the package (which
 * would rerun the failing download and delete our build). Written last: npm only trusts
 * the hidden lockfile when it is newer than every package folder.
 */
function registerWithNpm() {
  const lock = readJson(path.join(ROOT, 'package-lock.json'));
  const hiddenFile = path.join(ROOT, 'node_modules', '.package-lock.json');
  const hidden = readJson(hiddenFile);
  const entry = lock?.packages?.['node_modules/@tensorflow/tfjs-node'];
  if (!hidden?.packages || !entry) return false;
  hidden.packages['node_modules/@tensorflow/tfjs-node'] = entry;
  fs.writeFileSync(hiddenFile, `${JSON.stringify(hidden, null, 2)}\n`);
  return true;
}

async function fallback() {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`no local libtensorflow build for ${process.platform}-${process.arch}`);
  }
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  const key = buildKey();
  const cached = path.join(CACHE_DIR, key);
  const force = process.env.TFJS_HPO_FORCE_NATIVE_BUILD === '1';

  let source = 'cache';
  if (!force && fs.existsSync(path.join(cached, MARKER_NAME))) {
    log(`restoring the local build from .cache/tfjs-native/${key} ...`);
    fs.rmSync(PKG_DIR, { recursive: true, force: true });
    fs.cpSync(cached, PKG_DIR, { recursive: true, verbatimSymlinks: true });
  } else {
    source = 'build';
    const work = fs.mkdtempSync(path.join(CACHE_DIR, 'work-'));
    try {
      await buildFromSource(work);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  }

  const p = probe();
  if (!p.ok) throw new Error(`the local build does not load: ${p.reason}`);
  if (source === 'build') {
    writeMarker({
      source: 'fallback-build',
      tfjsNode: TFJS_NODE.version,
      libtensorflow: p.libtensorflow,
      libtensorflowFrom: LAMBDA.spec,
      patch: 'scripts/tf115-binding-patch.mjs',
      builtAt: new Date().toISOString(),
      node: process.version,
    });
    // Keep a copy so `npm ci` (which wipes node_modules) restores in seconds. The
    // package tarballs themselves stay in npm's cache, not ours.
    fs.rmSync(cached, { recursive: true, force: true });
    fs.cpSync(PKG_DIR, cached, { recursive: true, verbatimSymlinks: true });
    for (const f of fs.readdirSync(CACHE_DIR)) if (f.endsWith('.tgz')) fs.rmSync(path.join(CACHE_DIR, f));
    for (const f of fs.readdirSync(CACHE_DIR)) {
      if (f.startsWith('tfjs-node-') && f !== key) fs.rmSync(path.join(CACHE_DIR, f), { recursive: true, force: true });
    }
  }
  const registered = registerWithNpm();
  log(`tfjs-node ready: backend tensorflow, libtensorflow ${p.libtensorflow} (local build${source === 'cache' ? ', restored from cache' : ''}${registered ? '' : ', not registered with npm'}) [${elapsed()}]`);
}

/**
 * Serialises concurrent runs in one work tree (two `npm install`s at once would both
 * rewrite node_modules/@tensorflow/tfjs-node). A lock left by a dead process is taken over.
 */
async function withLock(fn) {
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  const lock = path.join(CACHE_DIR, 'install.lock');
  const deadline = Date.now() + 20 * 60_000;
  for (let announced = false; ; ) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
      break;
    } catch (e) {
      if (e?.code !== 'EEXIST') throw e;
      const pid = Number(fs.readFileSync(lock, 'utf8'));
      let alive = false;
      try {
        alive = Number.isInteger(pid) && pid > 0 && process.kill(pid, 0);
      } catch {
        alive = false;
      }
      if (!alive || Date.now() > deadline) {
        fs.rmSync(lock, { force: true });
        continue;
      }
      if (!announced) log(`waiting for another install (pid ${pid}) to finish ...`);
      announced = true;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lock, { force: true });
  }
}

// ---------------------------------------------------------------- our kernels addon

/** Sources, libtensorflow and Node ABI the kernels addon was built from. */
function kernelsKey() {
  const hash = createHash('sha256');
  for (const f of fs.readdirSync(KERNELS_DIR).filter((n) => /\.(cc|h|gyp)$/.test(n)).sort()) {
    hash.update(f).update(fs.readFileSync(path.join(KERNELS_DIR, f)));
  }
  const lib = path.join(PKG_DIR, 'deps', 'lib');
  const libs = fs.existsSync(lib) ? fs.readdirSync(lib).filter((n) => n.startsWith('libtensorflow.')).sort() : [];
  hash.update(JSON.stringify([libs, process.versions.modules, process.versions.napi, process.platform, process.arch]));
  return hash.digest('hex').slice(0, 16);
}

/**
 * Loads tfjs-node and the kernels addon in a fresh process and checks HpoMatMul against
 * libtensorflow's MatMul (plain, transposed, batched with a broadcast operand).
 */
function probeKernels() {
  const code = `
    process.env.TF_CPP_MIN_LOG_LEVEL = '2';
    const tf = require('@tensorflow/tfjs-node');
    const k = require(${JSON.stringify(KERNELS_ADDON)});
    if (!k.registered) { console.log(JSON.stringify({ ok: false, reason: k.registerError })); process.exit(0); }
    const be = tf.backend();
    let worst = 0;
    for (const [a, b, ta, tb] of [[[37, 300], [300, 21], false, false], [[300, 37], [300, 21], true, false],
                                  [[1, 5, 70], [3, 9, 70], false, true], [[4, 70, 5], [4, 9, 70], true, true]]) {
      const x = tf.randomNormal(a), y = tf.randomNormal(b);
      const ours = be.executeSingleOutput('HpoMatMul' + (ta ? 'T' : 'N') + (tb ? 'T' : 'N'), [], [x, y]);
      const ref = tf.matMul(x, y, ta, tb);
      worst = Math.max(worst, tf.max(tf.abs(tf.sub(ours, ref))).dataSync()[0]);
    }
    console.log(JSON.stringify({ ok: worst < 1e-3, isa: k.isa, worst }));`;
  const r = spawnSync(process.execPath, ['-e', code], { cwd: ROOT, encoding: 'utf8', timeout: 120_000, env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' } });
  try {
    const info = JSON.parse((r.stdout ?? '').trim().split('\n').pop() ?? '');
    return info.ok ? info : { ok: false, reason: info.reason ?? `products differ from MatMul by ${info.worst}` };
  } catch {
    const err = `${r.stderr ?? ''}`.split('\n').find((l) => /Error|error:|abort|Segmentation/.test(l));
    return { ok: false, reason: err?.trim() || (r.signal ? `killed by ${r.signal}` : `exit ${r.status}`) };
  }
}

/** Builds (or keeps) src/native's addon against tfjs-node's libtensorflow. Never throws. */
async function buildKernels() {
  if (process.env.TFJS_HPO_SKIP_KERNELS === '1') {
    log('TFJS_HPO_SKIP_KERNELS=1: not building the kernels addon (libtensorflow MatMul will run)');
    return;
  }
  try {
    if (!fs.existsSync(path.join(PKG_DIR, 'deps', 'include', 'tensorflow', 'c', 'c_api.h'))) {
      throw new Error("tfjs-node's deps/include has no TensorFlow C headers");
    }
    const key = kernelsKey();
    if (readJson(KERNELS_STAMP)?.key === key && fs.existsSync(KERNELS_ADDON)) {
      const p = probeKernels();
      if (p.ok) {
        log(`kernels addon ok (GEMM ${p.isa}, up to date) [${elapsed()}]`);
        return;
      }
    }
    fs.rmSync(KERNELS_BUILD, { recursive: true, force: true });
    const nodeDir = localNodeDir();
    const args = [findNodeGyp(), 'rebuild', '--loglevel=error', ...(nodeDir ? [`--nodedir=${nodeDir}`] : []), '--', `-Dtf_dir=${PKG_DIR}`];
    log('compiling the kernels addon (src/native) with node-gyp ...');
    const r = spawnSync(process.execPath, args, { cwd: KERNELS_DIR, encoding: 'utf8', maxBuffer: 64 << 20, timeout: 15 * 60_000 });
    if (r.status !== 0) {
      const err = `${r.stdout}\n${r.stderr}`.split('\n').find((l) => /error/i.test(l)) ?? `exit ${r.status}`;
      throw new Error(`node-gyp build failed: ${err.trim()}`);
    }
    const p = probeKernels();
    if (!p.ok) throw new Error(`built, but its check failed: ${p.reason}`);
    fs.writeFileSync(KERNELS_STAMP, `${JSON.stringify({ key, isa: p.isa, builtAt: new Date().toISOString() }, null, 2)}\n`);
    log(`kernels addon built: GEMM ${p.isa} [${elapsed()}]`);
  } catch (e) {
    fs.rmSync(KERNELS_BUILD, { recursive: true, force: true });
    console.warn(`[tfjs-hpo native] WARNING: kernels addon unavailable (${(e instanceof Error ? e.message : String(e)).split('\n')[0]}); training uses libtensorflow's MatMul.`);
  }
}

async function main() {
  if (process.env.TFJS_HPO_SKIP_NATIVE === '1') {
    log('TFJS_HPO_SKIP_NATIVE=1: skipping the native backend check');
    return;
  }
  await withLock(async () => {
    // check() returns only once tfjs-node loads (it probed it, or the fallback build did);
    // otherwise it throws and the kernels are not built.
    await check();
    await buildKernels();
  });
}

async function check() {
  const force = process.env.TFJS_HPO_FORCE_NATIVE_BUILD === '1';
  if (!force && fs.existsSync(path.join(PKG_DIR, 'package.json'))) {
    const p = probe();
    if (p.ok) {
      const marker = readJson(path.join(PKG_DIR, MARKER_NAME));
      if (!marker) writeMarker({ source: 'official', tfjsNode: TFJS_NODE.version, libtensorflow: p.libtensorflow, checkedAt: new Date().toISOString() });
      log(`tfjs-node ok: backend tensorflow, libtensorflow ${p.libtensorflow} (${marker?.source ?? 'official'} install) [${elapsed()}]`);
      return;
    }
    log(`installed tfjs-node does not load (${p.reason}); building it locally`);
  } else {
    log(force ? 'TFJS_HPO_FORCE_NATIVE_BUILD=1: building locally' : 'tfjs-node is not installed (its libtensorflow download failed?); building it locally');
  }
  await fallback();
}

try {
  await main();
} catch (e) {
  const msg = e instanceof Error ? e.message : String(e);
  console.warn(`[tfjs-hpo native] WARNING: native TensorFlow backend unavailable (${msg.split('\n')[0]}); training will fall back to the wasm backend.`);
}
process.exitCode = 0;
