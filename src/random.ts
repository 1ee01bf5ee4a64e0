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
}

/**
 * A 32-bit generator (sfc32) for the hot paths: per-epoch permutations of 60k indices and
 * per-step dropout masks of up to 256x512 values. The BigInt SplitMix (Rng, above) costs
 * about a microsecond per draw, which would rival the training step itself. Seeded only
 * through deriveSeed, so every stream still descends from the study seed.
 */
export class FastRng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  constructor(seed: number) {
    this.a = deriveSeed(seed, 'a') | 0;
    this.b = deriveSeed(seed, 'b') | 0;
    this.c = deriveSeed(seed, 'c') | 0;
    this.d = deriveSeed(seed, 'd') | 0 || 1;
    for (let i = 0; i < 12; i++) this.u32();
  }
  /** The generator's four state words (uint32), e.g. to continue the stream in native code. */
  state(): [number, number, number, number] {
    return [this.a >>> 0, this.b >>> 0, this.c >>> 0, this.d >>> 0];
  }
  /** The threshold fillMask compares draws with: floor(drop * 2^32). */
  static dropThreshold(drop: number): number {
    return Math.floor(drop * 4294967296);
  }
  /** Uniform 32-bit unsigned integer. */
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    return this.u32() / 4294967296;
  }
  /**
   * Fill `out` with inverted-dropout values: 0 with probability `drop`, else `keep`.
   * The generator state lives in locals for the loop: this runs once per training step
   * over up to rows x hidden values.
   */
  fillMask(out: Float32Array, drop: number, keep: number): void {
    const threshold = FastRng.dropThreshold(drop);
    let a = this.a;
    let b = this.b;
    let c = this.c;
    let d = this.d;
    for (let i = 0; i < out.length; i++) {
      const t = (((a + b) | 0) + d) | 0;
      d = (d + 1) | 0;
      a = b ^ (b >>> 9);
      b = (c + (c << 3)) | 0;
      c = (c << 21) | (c >>> 11);
      c = (c + t) | 0;
      out[i] = t >>> 0 < threshold ? 0 : keep;
    }
    this.a = a;
    this.b = b;
    this.c = c;
    this.d = d;
  }

  /** A uniformly random permutation of 0..n-1 (Fisher-Yates). */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const t = p[i]!;
      p[i] = p[j]!;
      p[j] = t;
    }
    return p;
  }
}
