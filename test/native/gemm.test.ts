import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { hpoKernelsPath } from '../../src/training/hpo-kernels.js';

const built = existsSync(hpoKernelsPath());
const checks = fileURLToPath(new URL('./gemm-checks.js', import.meta.url));

/** Runs gemm-checks.js in a child with the instruction set capped at `isa`. */
function run(isa: string | undefined): { isa: string; failures: string[]; checked: number } {
  const env = { ...process.env };
  if (isa) env['TFJS_HPO_GEMM_ISA'] = isa;
  else delete env['TFJS_HPO_GEMM_ISA'];
  const r = spawnSync(process.execPath, [checks], { env, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as { isa: string; failures: string[]; checked: number };
}

// Every GEMM body this CPU can run (the best one, and the lower ones forced), so the AVX2
// and portable code paths are exercised on an AVX-512 machine too.
test('GEMM: accurate, and bits independent of the rest of the product, on every instruction set', { skip: !built && 'kernels addon not built' }, () => {
  const best = run(undefined);
  const seen = new Set<string>();
  for (const r of [best, run('avx2'), run('baseline')]) {
    if (seen.has(r.isa)) continue;
    seen.add(r.isa);
    assert.ok(r.checked > 60, `${r.isa}: only ${r.checked} checks ran`);
    assert.deepEqual(r.failures, [], `${r.isa}: ${r.failures.join('; ')}`);
  }
  assert.ok(seen.has('baseline'), 'the portable body ran');
});
