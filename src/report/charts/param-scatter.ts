/**
 * Each hyperparameter against the value: one small panel per parameter, log x axes for
 * log parameters, categorical choices spread a little sideways so the dots do not hide
 * each other.
 */
import { fmt, sampleTrials, type Chart } from '../chart.js';
import type { ReportData } from '../data.js';
import { linearScale, valueDomain, px } from '../scale.js';
import { axisBottom, axisLeft, emptyNotice, esc, legend, STATE_COLORS, svgOpen, type Frame } from '../svg.js';
import { isLogParam, paramScale } from './param-scale.js';

export const MAX_POINTS = 1000;
const COLS = 3;
const PANEL: Frame = { width: 300, height: 240, left: 58, right: 14, top: 26, bottom: 42 };

export function paramScatterChart(d: ReportData): Chart {
  const title = 'Each hyperparameter against the value';
  const names = Object.keys(d.study.space);
  const withValue = d.trials.filter((t) => t.value !== null);
  const shown = sampleTrials(withValue, MAX_POINTS);
  let caption =
    `The ${d.valueLabel} of every trial with a value against each hyperparameter. Filled: completed; hollow grey: pruned (value where it stopped). ` +
    'Parameters sampled on a log scale have a log x axis; categorical choices are spread sideways within their column.';
  if (shown.length < withValue.length) caption += ` Showing ${shown.length} of ${withValue.length} trials (the best quarter and an even sample of the rest).`;
  const rows = Math.max(1, Math.ceil(names.length / COLS));
  const outer: Frame = { width: 900, height: 24 + rows * PANEL.height, left: 0, right: 0, top: 24, bottom: 0 };
  const parts = [svgOpen(outer, title)];
  if (shown.length === 0 || names.length === 0) {
    parts.push(emptyNotice(outer, names.length === 0 ? 'the search space has no parameters' : 'no trial with a value yet'), '</svg>');
    return { id: 'param-scatter', title, caption, svg: parts.join('') };
  }
  const values = shown.map((t) => t.value!);
  const yDomain = valueDomain(Math.min(...values), Math.max(...values));
  const order = [...shown].sort((a, b) => (a.state === 'pruned' ? 0 : 1) - (b.state === 'pruned' ? 0 : 1));
  names.forEach((name, i) => {
    const f = PANEL;
    const dist = d.study.space[name];
    const x = paramScale(dist, shown.map((t) => t.params[name]), [f.left, f.width - f.right]);
    const y = linearScale(yDomain, [f.height - f.bottom, f.top]);
    const ox = (i % COLS) * f.width;
    const oy = outer.top + Math.floor(i / COLS) * f.height;
    parts.push(`<g transform="translate(${ox} ${oy})">`);
    parts.push(axisBottom(f, x, `${name}${isLogParam(dist) ? ' (log scale)' : ''}`, 4), axisLeft(f, y, d.valueLabel, 4));
    const bandW = x.kind === 'band' ? (f.width - f.left - f.right) / Math.max(1, x.ticks().length) : 0;
    for (const t of order) {
      const v = t.params[name];
      if (v === undefined) continue;
      // Golden-ratio offsets: a deterministic, even spread (no randomness in src/).
      const jitter = bandW > 0 ? (((t.number * 0.6180339887) % 1) - 0.5) * bandW * 0.6 : 0;
      const cx = x.map(v) + jitter;
      if (!Number.isFinite(cx)) continue;
      // Short tooltips: the position already says the parameter, and this chart repeats per parameter.
      const tip = `trial ${t.number} (${t.state}): ${fmt(t.value)}, ${name}=${fmt(v)}`;
      const style = t.state === 'pruned' ? `fill="none" stroke="${STATE_COLORS.pruned}"` : `fill="${STATE_COLORS.completed}" fill-opacity="0.7"`;
      parts.push(`<circle class="mark" cx="${px(cx)}" cy="${px(y.map(t.value))}" r="3" ${style}><title>${esc(tip)}</title></circle>`);
    }
    parts.push('</g>');
  });
  parts.push(
    legend(
      { ...outer, top: 20 },
      (['completed', 'pruned'] as const).filter((s) => shown.some((t) => t.state === s)).map((s) => ({ label: s, color: STATE_COLORS[s], shape: s === 'pruned' ? ('ring' as const) : ('dot' as const) })),
    ),
    '</svg>',
  );
  return { id: 'param-scatter', title, caption, svg: parts.join('') };
}
