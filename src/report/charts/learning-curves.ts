/**
 * Every trial's validation error per epoch (d2l's successive-halving / ASHA figures):
 * completed trials coloured by their rank, pruned trials grey ending in a cross at the rung
 * where the scheduler stopped them, the rungs as dashed vertical lines.
 */
import { fmt, fmtParams, sampleTrials, valueRanks, type Chart } from '../chart.js';
import type { ReportData } from '../data.js';
import { linearScale, valueDomain, px } from '../scale.js';
import { axisBottom, axisLeft, emptyNotice, esc, legend, plotX, plotY, rampColor, STATE_COLORS, svgOpen, type Frame, type LegendEntry } from '../svg.js';

const FRAME: Frame = { width: 900, height: 380, left: 64, right: 24, top: 34, bottom: 44 };
/** Above this many trials, a sample is drawn (see sampleTrials). */
export const MAX_CURVES = 1000;

export function learningCurvesChart(d: ReportData): Chart {
  const f = FRAME;
  const title = 'Learning curves';
  const withCurve = d.trials.filter((t) => (d.curves.get(t.number)?.length ?? 0) > 0);
  const shown = sampleTrials(withCurve, MAX_CURVES);
  let caption =
    `The ${d.valueLabel} reported after each epoch, one line per trial. Completed trials are coloured by rank (darkest = best); ` +
    'pruned trials are grey and end in a cross where the scheduler stopped them; failed trials are red, running ones green.';
  if (d.rungs.length > 0) caption += ` Dashed verticals: the ${d.scheduler} rungs (epochs ${d.rungs.join(', ')}).`;
  if (shown.length < withCurve.length) {
    caption += ` ${withCurve.length} trials have reports; the ${Math.floor(MAX_CURVES / 4)} best and an even sample of the rest (${shown.length} in all) are drawn.`;
  }
  const parts = [svgOpen(f, title)];
  if (shown.length === 0) {
    parts.push(emptyNotice(f, 'no epoch reported yet'), '</svg>');
    return { id: 'learning-curves', title, caption, svg: parts.join('') };
  }
  let maxEpoch = 1;
  let lo = Infinity;
  let hi = -Infinity;
  for (const t of shown) {
    for (const r of d.curves.get(t.number)!) {
      maxEpoch = Math.max(maxEpoch, r.epoch);
      lo = Math.min(lo, r.value);
      hi = Math.max(hi, r.value);
    }
  }
  const settingsEpochs = d.study.settings['epochs'];
  if (typeof settingsEpochs === 'number' && Number.isFinite(settingsEpochs)) maxEpoch = Math.max(maxEpoch, settingsEpochs);
  // Half an epoch of room at each end keeps the marks at epoch 1 off the y axis.
  const x = linearScale([0.5, maxEpoch + 0.5], plotX(f));
  const y = linearScale(valueDomain(lo, hi), plotY(f));
  parts.push(axisBottom(f, x, 'epoch', Math.min(10, maxEpoch)), axisLeft(f, y, d.valueLabel));
  const [yb, yt] = plotY(f);
  // Rung labels: right of their line (left of it near the right edge), one line lower when
  // they would run into the previous label (rungs 9 and 10 of r_max 10, say).
  let lastEnd = -Infinity;
  let level = 0;
  for (const r of d.rungs) {
    const xr = x.map(r);
    const label = `rung ${r}`;
    const width = label.length * 6 + 6;
    const leftSide = xr > plotX(f)[1] - width;
    const start = leftSide ? xr - width : xr;
    level = start < lastEnd ? level + 1 : 0;
    lastEnd = start + width;
    const y = yt + 12 + level * 13;
    parts.push(
      `<g class="rung"><line x1="${px(xr)}" x2="${px(xr)}" y1="${yt}" y2="${yb}" stroke="#7a4b00" stroke-dasharray="5 4" stroke-width="1.2"/>` +
        (leftSide ? `<text x="${px(xr - 3)}" y="${y}" text-anchor="end">${label}</text></g>` : `<text x="${px(xr + 3)}" y="${y}">${label}</text></g>`),
    );
  }
  // Ranked among completed trials only: the only ones coloured by rank here.
  const ranks = valueRanks(d.trials.filter((t) => t.state === 'completed'));
  // Draw the least interesting first so the best curves end up on top.
  const order = (s: string): number => ({ pruned: 0, failed: 1, interrupted: 2, running: 3, completed: 4 })[s] ?? 0;
  const sorted = [...shown].sort((a, b) => order(a.state) - order(b.state) || (ranks.get(b.number) ?? 1) - (ranks.get(a.number) ?? 1));
  const thin = shown.length > 200;
  for (const t of sorted) {
    const pts = d.curves.get(t.number)!;
    const color = t.state === 'completed' ? rampColor(ranks.get(t.number) ?? 1) : STATE_COLORS[t.state];
    const tip = `trial ${t.number} (${t.state}${t.value !== null ? `, ${fmt(t.value)}` : ''}, ${pts.length} epoch(s)): ${fmtParams(t.params)}${t.error ? ` - ${t.error}` : ''}`;
    const coords = pts.map((r) => `${px(x.map(r.epoch))},${px(y.map(r.value))}`);
    const last = pts[pts.length - 1]!;
    const lx = x.map(last.epoch);
    const ly = y.map(last.value);
    const width = t.state === 'completed' ? (thin ? 1.1 : 1.8) : thin ? 0.8 : 1.2;
    const opacity = t.state === 'pruned' ? 0.6 : 0.9;
    const dash = t.state === 'failed' ? ' stroke-dasharray="4 3"' : '';
    const line =
      pts.length === 1
        ? `<circle class="mark" cx="${px(lx)}" cy="${px(ly)}" r="2.5" fill="${color}" fill-opacity="${opacity}">`
        : `<polyline class="mark" points="${coords.join(' ')}" fill="none" stroke="${color}" stroke-width="${width}" stroke-opacity="${opacity}"${dash}>`;
    parts.push(`${line}<title>${esc(tip)}</title>${pts.length === 1 ? '</circle>' : '</polyline>'}`);
    if (t.state === 'pruned') {
      parts.push(`<path d="M${px(lx - 3)} ${px(ly - 3)}l6 6m0 -6l-6 6" stroke="${STATE_COLORS.pruned}" stroke-width="1.3"/>`);
    }
  }
  const entries: LegendEntry[] = [];
  const completed = shown.filter((t) => t.state === 'completed').length;
  if (completed > 1) {
    entries.push({ label: 'completed (best)', color: rampColor(0), shape: 'line' }, { label: 'completed (worst)', color: rampColor(1), shape: 'line' });
  } else if (completed === 1) {
    entries.push({ label: 'completed', color: rampColor(0), shape: 'line' });
  }
  if (shown.some((t) => t.state === 'pruned')) entries.push({ label: 'pruned', color: STATE_COLORS.pruned, shape: 'cross' });
  if (shown.some((t) => t.state === 'failed')) entries.push({ label: 'failed', color: STATE_COLORS.failed, shape: 'dash' });
  if (shown.some((t) => t.state === 'running')) entries.push({ label: 'running', color: STATE_COLORS.running, shape: 'line' });
  if (d.rungs.length) entries.push({ label: 'rung', color: '#7a4b00', shape: 'dash' });
  parts.push(legend(f, entries), '</svg>');
  return { id: 'learning-curves', title, caption, svg: parts.join('') };
}
