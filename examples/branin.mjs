// The Branin function (minimum 0.397887 at three points), a classic test of samplers:
//   npx hpo run --study b --storage /tmp/b.db --objective ./branin.mjs --space ./branin.json \
//       --trials 50 --workers 1 --sampler tpe --seed 1
export default async function branin({ x1, x2 }) {
  const b = 5.1 / (4 * Math.PI ** 2);
  const c = 5 / Math.PI;
  const t = 1 / (8 * Math.PI);
  return (x2 - b * x1 * x1 + c * x1 - 6) ** 2 + 10 * (1 - t) * Math.cos(x1) + 10;
}
