import { SpaceError } from '../errors.js';

/** A categorical choice: anything JSON can carry as a scalar. */
export type Choice = string | number | boolean;

/** One hyperparameter's distribution. */
export type Distribution =
  | { readonly type: 'loguniform'; readonly low: number; readonly high: number }
  | { readonly type: 'uniform'; readonly low: number; readonly high: number }
  | { readonly type: 'int'; readonly low: number; readonly high: number; readonly log?: boolean }
  | { readonly type: 'categorical'; readonly choices: readonly Choice[] };

/** Parameter name -> distribution. Key order is significant: it fixes sampling order. */
export type SearchSpace = Readonly<Record<string, Distribution>>;

/** A sampled configuration. */
export type Params = Record<string, Choice>;

const TYPES = ['loguniform', 'uniform', 'int', 'categorical'] as const;
const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Validate one distribution given as an object (`{"type": "int", "low": 1, "high": 8}`)
 * or as the short string form (`"loguniform(0.01, 1)"`, `"int(32, 256, log)"`,
 * `"categorical([\"relu\", \"tanh\"])"`). Returns the normalised object.
 * @throws SpaceError naming the parameter and the problem.
 */
export function parseDistribution(name: string, raw: unknown): Distribution {
  if (!NAME_RE.test(name)) throw new SpaceError(name, 'name must be an identifier (letters, digits, _)');
  if (typeof raw === 'string') return parseDistribution(name, parseShortForm(name, raw));
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new SpaceError(name, 'expected an object like {"type": "uniform", "low": 0, "high": 1} or a string like "uniform(0, 1)"');
  }
  const o = raw as Record<string, unknown>;
  const type = o['type'];
  if (typeof type !== 'string' || !(TYPES as readonly string[]).includes(type)) {
    throw new SpaceError(name, `unknown type ${JSON.stringify(type)} (expected one of ${TYPES.join(', ')})`);
  }
  const allowed = type === 'categorical' ? ['type', 'choices'] : type === 'int' ? ['type', 'low', 'high', 'log'] : ['type', 'low', 'high'];
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) throw new SpaceError(name, `unknown field "${k}" for type ${type}`);
  }
  if (type === 'categorical') {
    const choices = o['choices'];
    if (!Array.isArray(choices)) throw new SpaceError(name, 'categorical needs "choices": a non-empty array');
    if (choices.length === 0) throw new SpaceError(name, 'categorical choices are empty');
    const seen = new Set<string>();
    for (const c of choices) {
      if (!(typeof c === 'string' || typeof c === 'boolean' || (typeof c === 'number' && Number.isFinite(c)))) {
        throw new SpaceError(name, `choice ${JSON.stringify(c)} is not a string, finite number or boolean`);
      }
      const key = JSON.stringify(c);
      if (seen.has(key)) throw new SpaceError(name, `duplicate choice ${key}`);
      seen.add(key);
    }
    return { type, choices: [...(choices as Choice[])] };
  }
  const low = o['low'];
  const high = o['high'];
  if (typeof low !== 'number' || !Number.isFinite(low)) throw new SpaceError(name, `low must be a finite number, got ${JSON.stringify(low)}`);
  if (typeof high !== 'number' || !Number.isFinite(high)) throw new SpaceError(name, `high must be a finite number, got ${JSON.stringify(high)}`);
  if (type === 'int') {
    if (!Number.isSafeInteger(low)) throw new SpaceError(name, `int low must be an integer, got ${low}`);
    if (!Number.isSafeInteger(high)) throw new SpaceError(name, `int high must be an integer, got ${high}`);
    if (low > high) throw new SpaceError(name, `low (${low}) > high (${high})`);
    const log = o['log'];
    if (log !== undefined && typeof log !== 'boolean') throw new SpaceError(name, '"log" must be true or false');
    if (log === true && low <= 0) throw new SpaceError(name, `log scale needs positive bounds, got low ${low}`);
    return log === true ? { type, low, high, log: true } : { type, low, high };
  }
  if (low >= high) throw new SpaceError(name, `low (${low}) >= high (${high})`);
  if (type === 'loguniform' && low <= 0) throw new SpaceError(name, `loguniform needs positive bounds, got low ${low}`);
  return { type: type as 'loguniform' | 'uniform', low, high };
}

/** `loguniform(0.01, 1)` -> object form. Arguments are JSON values. */
function parseShortForm(name: string, s: string): unknown {
  const m = /^\s*([a-z]+)\s*\((.*)\)\s*$/s.exec(s);
  if (!m) throw new SpaceError(name, `cannot parse "${s}" (expected e.g. "uniform(0, 1)")`);
  const type = m[1]!;
  const body = m[2]!;
  if (type === 'categorical') {
    let choices: unknown;
    try {
      choices = JSON.parse(body);
    } catch {
      throw new SpaceError(name, `categorical(...) needs a JSON array, got ${body.trim()}`);
    }
    return { type, choices };
  }
  const args = body.split(',').map((a) => a.trim());
  const log = args.length === 3 && args[2] === 'log';
  if (args.length !== 2 && !log) throw new SpaceError(name, `${type}(...) takes (low, high)${type === 'int' ? ' or (low, high, log)' : ''}`);
  const num = (a: string): number => {
    const v = Number(a);
    if (a === '' || !Number.isFinite(v)) throw new SpaceError(name, `"${a}" is not a finite number`);
    return v;
  };
  if (log && type !== 'int') throw new SpaceError(name, `the "log" flag applies to int only (use loguniform)`);
  return log ? { type, low: num(args[0]!), high: num(args[1]!), log: true } : { type, low: num(args[0]!), high: num(args[1]!) };
}

/**
 * Validate a whole space, e.g. the parsed contents of `--space space.json`.
 * @throws SpaceError on the first problem found.
 */
export function parseSpace(raw: unknown): SearchSpace {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new SpaceError(undefined, 'expected a JSON object mapping parameter names to distributions');
  }
  const entries = Object.entries(raw as Record<string, unknown>);
  if (entries.length === 0) throw new SpaceError(undefined, 'the space has no parameters');
  const out: Record<string, Distribution> = {};
  for (const [name, d] of entries) out[name] = parseDistribution(name, d);
  return out;
}

/** Short human form of a distribution, the inverse of the string syntax. */
export function formatDistribution(d: Distribution): string {
  switch (d.type) {
    case 'categorical':
      return `categorical(${JSON.stringify(d.choices)})`;
    case 'int':
      return `int(${d.low}, ${d.high}${d.log ? ', log' : ''})`;
    default:
      return `${d.type}(${d.low}, ${d.high})`;
  }
}

/** Canonical JSON of a space (object form, key order kept): what storage records. */
export function spaceToJson(space: SearchSpace): string {
  return JSON.stringify(space);
}

/** Is `v` a value this distribution can produce? Used to validate stored / user params. */
export function contains(d: Distribution, v: Choice): boolean {
  switch (d.type) {
    case 'categorical':
      return d.choices.some((c) => c === v);
    case 'int':
      return typeof v === 'number' && Number.isInteger(v) && v >= d.low && v <= d.high;
    default:
      return typeof v === 'number' && v >= d.low && v <= d.high;
  }
}
