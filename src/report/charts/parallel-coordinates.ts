/**
 * Parallel coordinates: one vertical axis per hyperparameter (log axes for log
 * parameters, evenly spaced choices for categorical ones) and one for the value; each
 * trial with a value is a line across them, coloured by its rank.
 */
import { fmt, fmtParams, sampleTrials, valueRanks, type Chart } from '../chart.js';
import type { ReportData } from '../data.js';
import { linearScale, valueDomain, px, type Scale } from '../scale.js';
import { emptyNotice, esc, rampColor, svgOpen, type Frame } from '../svg.js';
import { isLogParam, paramScale } from './param-scale.js';

export const MAX_LINES = 1000;

export function parallelCoordinatesChart(d: ReportData): Chart {
  const title = 'Parallel coordinates';
  const names = Object.keys(d.study.space);
  const withValue = d.trials.filter((t) => t.value !== null);
  const shown = sampleTrials(withValue, MAX_LINES);
  let caption =
    `One line per trial with a value, through its hyperparameters and its ${d.valueLabel} (last axis). ` +
    'Colour by rank: darkest = best; pruned trials are fainter (their value is from the epoch where they stopped). ' +
    `Axes marked "log" are logarithmic.`;
  if (shown.length < withValue.length) caption += ` Showing the ${Math.floor(MAX_LINES / 4)} best and an even sample of the rest (${shown.length} of ${withValue.length}).`;
  const f: Frame = { width: 900, height: 390, left: 70, right: 70, top: 58, bottom: 30 };
  const parts = [svgOpen(f, title)];
  if (shown.length === 0) {
    parts.push(emptyNotice(f, 'no trial with a value yet'), '</svg>');
    return { id: 'parallel-coordinates', title, caption, svg: parts.join('') };
  }
  const axes = [...names, '__value'];
  const step = axes.length > 1 ? (f.width - f.left - f.right) / (axes.length - 1) : 0;
  const yr: [number, number] = [f.height - f.bottom, f.top];
  const values = shown.map((t) => t.value!);
  const scales: Scale[] = axes.map((a) =>
    a === '__value' ? linearScale(valueDomain(Math.min(...values), Math.max(...values)), yr) : paramScale(d.study.space[a], shown.map((t) => t.params[a]), yr),
  );
  const ax = (i: number): number => (axes.length > 1 ? f.left + i * step : f.width / 2);
  const ranks = valueRanks(d.trials);
  const sorted = [...shown].sort((a, b) => (ranks.get(b.number) ?? 1) - (ranks.get(a.number) ?? 1));
  const thin = shown.length > 200;
  for (const t of sorted) {
    const pts: string[] = [];
    axes.forEach((a, i) => {
      const v = a === '__value' ? t.value : t.params[a];
      if (v === undefined) return;
      const y = scales[i]!.map(v);
      if (Number.isFinite(y)) pts.push(`${px(ax(i))},${px(y)}`);
    });
    if (pts.length === 1) pts.push(pts[0]!.replace(/^([\d.]+)/, (m) => String(Number(m) + 0.5)));
    const op = t.state === 'pruned' ? 0.3 : 0.85;
    parts.push(
      `<polyline class="mark" points="${pts.join(' ')}" fill="none" stroke="${rampColor(ranks.get(t.number) ?? 1)}" stroke-width="${thin ? 0.8 : 1.4}" stroke-opacity="${op}">` +
        `<title>${esc(`trial ${t.number} (${t.state}): ${fmt(t.value)} - ${fmtParams(t.params)}`)}</title></polyline>`,
    );
  }
  // Axes on top of the lines, with ticks on a white halo so labels stay readable.
  axes.forEach((a, i) => {
    const x = ax(i);
    const s = scales[i]!;
    parts.push(`<g class="axis pc"><line x1="${px(x)}" x2="${px(x)}" y1="${yr[1]}" y2="${yr[0]}"/>`);
    for (const t of s.ticks(5)) {
      parts.push(`<line x1="${px(x - 4)}" x2="${px(x)}" y1="${px(t.at)}" y2="${px(t.at)}"/><text class="halo" x="${px(x - 6)}" y="${px(t.at + 4)}" text-anchor="end">${esc(t.label)}</text>`);
    }
    const dist = d.study.space[a];
    const label = a === '__value' ? d.valueLabel : `${a}${isLogParam(dist) ? ' (log)' : ''}`;
    parts.push(`<text class="title" x="${px(x)}" y="${f.top - 18}" text-anchor="middle">${esc(label)}</text></g>`);
  });
  parts.push(
    `<defs><linearGradient id="pc-ramp">${[0, 0.25, 0.5, 0.75, 1].map((o) => `<stop offset="${o}" stop-color="${rampColor(o)}"/>`).join('')}</linearGradient></defs>` +
      `<g class="legend"><text x="${f.width - 250}" y="14">best</text><rect x="${f.width - 220}" y="5" width="120" height="10" fill="url(#pc-ramp)"/><text x="${f.width - 94}" y="14">worst (rank)</text></g>`,
    '</svg>',
  );
  return { id: 'parallel-coordinates', title, caption, svg: parts.join('') };
}
