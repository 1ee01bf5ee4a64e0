// Shared by the benchmarks: machine description and replacing one "## " section of RESULTS.md.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';

export const RESULTS = fileURLToPath(new URL('./RESULTS.md', import.meta.url));

/**
 * The CPU model name with its family and model numbers (from /proc/cpuinfo on Linux): VMs
 * report generations alike ("AMD EPYC"), and the same code's speed differs between them.
 */
export function cpuModel() {
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const field = (name) => new RegExp(`^${name}\\s*:\\s*(.+)$`, 'm').exec(info)?.[1]?.trim();
    const name = field('model name');
    const family = field('cpu family');
    const model = field('model');
    if (name) return family && model ? `${name} (family ${family} model ${model})` : name;
  } catch {
    // not Linux
  }
  return cpus()[0]?.model ?? 'unknown CPU';
}

/** One line: CPU model, cores, memory, Node, and whatever else the caller adds. */
export function machineLine(extra = []) {
  const parts = [`${cpuModel()}`, `${availableParallelism()} cores`, `${Math.round(totalmem() / 2 ** 30)} GiB`, `Node ${process.version}`, ...extra];
  return `Machine: ${parts.join(', ')}. Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC.`;
}

/** The value after `--name` on this script's command line, or `dflt`. */
export function opt(name, dflt) {
  const argv = process.argv.slice(2);
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
}

/** The median (the mean of the middle two for an even count). */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Replace (or append) the section whose heading is `## ${title}`. */
export function writeSection(title, body) {
  const heading = `## ${title}`;
  const section = `${heading}\n\n${body.trim()}\n`;
  let text = existsSync(RESULTS) ? readFileSync(RESULTS, 'utf8') : '# Benchmark results\n\nWritten by `npm run bench` (native-bench/run.mjs); each section by its own script.\n';
  const start = text.indexOf(`${heading}\n`);
  if (start >= 0) {
    const next = text.indexOf('\n## ', start + heading.length);
    text = text.slice(0, start) + section + (next >= 0 ? text.slice(next) : '');
  } else {
    text = text.replace(/\s*$/, '\n\n') + section;
  }
  writeFileSync(RESULTS, text);
}

export const CLI = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));

/** `hpo info --json`, parsed (backend, versions, threads...). */
export function hpoInfo() {
  return JSON.parse(execFileSync(process.execPath, [CLI, 'info', '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
}

/** "tensorflow (libtensorflow 1.15.0), tfjs 4.22.0, matMul: tfjs-hpo GEMM (avx512)" */
export function backendLine(info = hpoInfo()) {
  const v = info.versions ?? {};
  return `backend ${info.backend}${v.libtensorflow ? ` (libtensorflow ${v.libtensorflow})` : ''}, tfjs ${v.tfjs ?? '?'}${info.matMulKernels ? `, matMul: ${info.matMulKernels}` : ''}`;
}

/** Run the CLI; resolves with its exit code, stdout, stderr and wall time in ms. */
export function hpo(args, opts = {}) {
  const t0 = performance.now();
  try {
    const stdout = execFileSync(process.execPath, [CLI, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    return { code: 0, stdout, ms: performance.now() - t0 };
  } catch (e) {
    throw new Error(`hpo ${args.join(' ')} failed: ${e.stderr ?? e.message}`);
  }
}
