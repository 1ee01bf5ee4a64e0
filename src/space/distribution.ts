import { SpaceError } from '../errors.js';

/** A categorical choice: anything JSON can carry as a scalar. */
export type Choice = string | number | boolean;

/**
 * A test on an earlier parameter's value: one of some values (`in`), or a numeric range
 * (`min` <= value <= `max`, either bound optional).
 */
export type ConditionTest = { readonly in: readonly Choice[] } | { readonly min?: number; readonly max?: number };

/** Parent parameter name -> test; the parameter is active when every parent is active and passes. */
export type Condition = Readonly<Record<string, ConditionTest>>;

/** One hyperparameter's distribution, optionally active only under a condition. */
export type Distribution = (
  | { readonly type: 'loguniform'; readonly low: number; readonly high: number }
  | { readonly type: 'uniform'; readonly low: number; readonly high: number }
  | { readonly type: 'int'; readonly low: number; readonly high: number; readonly log?: boolean }
  | { readonly type: 'categorical'; readonly choices: readonly Choice[] }
) & { readonly when?: Condition };

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
    if (!allowed.includes(k) && k !== 'when') throw new SpaceError(name, `unknown field "${k}" for type ${type}`);
  }
  if (o['when'] !== undefined) {
    const { when: raw, ...rest } = o;
    return { ...parseDistribution(name, rest), when: parseConditionShape(name, raw) };
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
  for (const [name, d] of entries) {
    const dist = parseDistribution(name, d);
    if (dist.when) checkConditionRefs(name, dist.when, out);
    out[name] = dist;
  }
  return out;
}

/**
 * `{"num_layers": {"min": 2}}`, `{"optimizer": "sgd"}` (equals), `{"optimizer": ["sgd",
 * "adam"]}` (one of) -> normalised Condition. Parents are checked by parseSpace.
 */
function parseConditionShape(name: string, raw: unknown): Condition {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || Object.keys(raw).length === 0) {
    throw new SpaceError(name, '"when" must be an object like {"num_layers": {"min": 2}} or {"optimizer": "sgd"}');
  }
  const out: Record<string, ConditionTest> = {};
  for (const [parent, t] of Object.entries(raw as Record<string, unknown>)) {
    const scalar = (v: unknown): v is Choice =>
      typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
    if (scalar(t)) out[parent] = { in: [t] };
    else if (Array.isArray(t)) {
      if (t.length === 0 || !t.every(scalar)) throw new SpaceError(name, `"when.${parent}": expected a non-empty array of values`);
      out[parent] = { in: [...t] };
    } else if (t !== null && typeof t === 'object') {
      const o = t as Record<string, unknown>;
      for (const k of Object.keys(o)) {
        if (k !== 'min' && k !== 'max') throw new SpaceError(name, `"when.${parent}": unknown field "${k}" (expected "min" and/or "max")`);
      }
      const min = o['min'];
      const max = o['max'];
      if (min === undefined && max === undefined) throw new SpaceError(name, `"when.${parent}": give "min" and/or "max"`);
      for (const [k, v] of [['min', min], ['max', max]] as const) {
        if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v))) {
          throw new SpaceError(name, `"when.${parent}": ${k} must be a finite number, got ${JSON.stringify(v)}`);
        }
      }
      if (typeof min === 'number' && typeof max === 'number' && min > max) {
        throw new SpaceError(name, `"when.${parent}": min (${min}) > max (${max})`);
      }
      out[parent] = { ...(min === undefined ? {} : { min: min as number }), ...(max === undefined ? {} : { max: max as number }) };
    } else throw new SpaceError(name, `"when.${parent}": expected a value, an array of values or {"min", "max"}`);
  }
  return out;
}

/** Parents must come earlier in the space (sampling order) and the tests must fit them. */
function checkConditionRefs(name: string, when: Condition, earlier: Readonly<Record<string, Distribution>>): void {
  for (const [parent, t] of Object.entries(when)) {
    const p = earlier[parent];
    if (!p) throw new SpaceError(name, `"when" refers to "${parent}", which must be a parameter defined before "${name}"`);
    if ('in' in t) {
      for (const v of t.in) {
        if (!contains(p, v)) throw new SpaceError(name, `"when.${parent}": ${JSON.stringify(v)} is not a value of ${parent} ${formatDistribution(p)}`);
      }
    } else if (p.type === 'categorical') {
      throw new SpaceError(name, `"when.${parent}": min/max need a numeric parameter; ${parent} is categorical (list its values instead)`);
    }
  }
}

/** Does `params` (the earlier parameters of a trial) make parameter `d` active? */
export function isActive(d: Distribution, params: Readonly<Params>): boolean {
  if (!d.when) return true;
  for (const [parent, t] of Object.entries(d.when)) {
    const v = params[parent];
    if (v === undefined) return false; // the parent itself is inactive
    if ('in' in t) {
      if (!t.in.some((c) => c === v)) return false;
    } else {
      if (typeof v !== 'number') return false;
      if (t.min !== undefined && v < t.min) return false;
      if (t.max !== undefined && v > t.max) return false;
    }
  }
  return true;
}

/**
 * Check a config (e.g. an enqueued one) against the space: every parameter given is in the
 * space, active, and a value its distribution can produce; without `partial`, every active
 * parameter must be given.
 * @throws SpaceError naming the first offending parameter.
 */
export function checkParams(space: SearchSpace, params: Readonly<Record<string, unknown>>, opts: { partial?: boolean } = {}): Params {
  for (const k of Object.keys(params)) {
    if (!(k in space)) throw new SpaceError(k, `is not in the search space (${Object.keys(space).join(', ')})`);
  }
  const out: Params = {};
  for (const [name, d] of Object.entries(space)) {
    const v = params[name];
    // With partial configs a missing parent leaves its children's activity open.
    const parentsMissing = opts.partial === true && Object.keys(d.when ?? {}).some((p) => out[p] === undefined && space[p] !== undefined && params[p] === undefined);
    if (!parentsMissing && !isActive(d, out)) {
      if (v !== undefined) throw new SpaceError(name, `is inactive for this config (${formatCondition(d.when!)}) and must be left out`);
      continue;
    }
    if (v === undefined) {
      if (opts.partial === true) continue;
      throw new SpaceError(name, 'missing (it is active for this config)');
    }
    if (!(typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') || !contains(d, v)) {
      throw new SpaceError(name, `${JSON.stringify(v)} is not a value of ${formatDistribution(d)}`);
    }
    out[name] = v;
  }
  return out;
}

function formatCondition(when: Condition): string {
  return Object.entries(when)
    .map(([p, t]) =>
      'in' in t
        ? `${p} in ${JSON.stringify(t.in)}`
        : [t.min !== undefined ? `${p} >= ${t.min}` : '', t.max !== undefined ? `${p} <= ${t.max}` : ''].filter(Boolean).join(' and '),
    )
    .join(' and ');
}

/** Short human form of a distribution, the inverse of the string syntax. */
export function formatDistribution(d: Distribution): string {
  const when = d.when ? ` when ${formatCondition(d.when)}` : '';
  switch (d.type) {
    case 'categorical':
      return `categorical(${JSON.stringify(d.choices)})${when}`;
    case 'int':
      return `int(${d.low}, ${d.high}${d.log ? ', log' : ''})${when}`;
    default:
      return `${d.type}(${d.low}, ${d.high})${when}`;
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
