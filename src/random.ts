/**
 * The only source of randomness in src/. A 64-bit SplitMix generator: tiny, fast, with
 * well-mixed outputs even for consecutive seeds, so child seeds can be derived by hashing
 * (master seed, purpose, index) and every trial's stream is independent of scheduling.
 */
const MASK = (1n << 64n) - 1n;

function mix64(z: bigint): bigint {
  z = (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n & MASK;
  z = (z ^ (z >> 27n)) * 0x94d049bb133111ebn & MASK;
  return z ^ (z >> 31n);
}

/** Hash a list of integers and strings into a 53-bit non-negative integer seed. */
export function deriveSeed(...parts: (number | string)[]): number {
  let h = 0x9e3779b97f4a7c15n;
  for (const part of parts) {
    if (typeof part === 'number') {
      if (!Number.isSafeInteger(part)) throw new RangeError(`deriveSeed: ${part} is not a safe integer`);
      h = mix64((h ^ BigInt.asUintN(64, BigInt(part))) + 0x9e3779b97f4a7c15n & MASK);
    } else {
      for (let i = 0; i < part.length; i++) h = mix64((h ^ BigInt(part.charCodeAt(i))) + 0x9e3779b97f4a7c15n & MASK);
      h = mix64(h ^ 0xffn);
    }
  }
  return Number(h >> 11n);
}

/** Seeded pseudo-random generator (SplitMix64, 53-bit floats). */
export class Rng {
  private state: bigint;
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`Rng: seed must be a safe integer, got ${seed}`);
    this.state = BigInt.asUintN(64, BigInt(seed));
  }
  /** Uniform float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x9e3779b97f4a7c15n) & MASK;
    return Number(mix64(this.state) >> 11n) / 2 ** 53;
  }
  /** Uniform integer in [low, high] inclusive. */
  int(low: number, high: number): number {
    return low + Math.floor(this.next() * (high - low + 1));
  }
  /** Standard normal (Box-Muller). */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  /** In-place Fisher-Yates shuffle. */
  shuffle<T>(a: T[] | Int32Array | Uint32Array): void {
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const t = a[i]!;
      a[i] = a[j]!;
      a[j] = t;
    }
  }
}
