/**
 * Best validation error so far against wall-clock time (d2l's HPO figure): every finished
 * trial is a dot at the moment it finished, the line is the running minimum.
 */
import { fmt, fmtSeconds, ms, sampleTrials, timeAxis, type Chart } from '../chart.js';
import type { ReportData } from '../data.js';
import { linearScale, valueDomain, px } from '../scale.js';
import { axisBottom, axisLeft, emptyNotice, esc, legend, plotX, plotY, STATE_COLORS, svgOpen, type Frame } from '../svg.js';

export const MAX_DOTS = 1500;
const FRAME: Frame = { width: 900, height: 320, left: 64, right: 24, top: 30, bottom: 44 };

export function bestSoFarChart(d: ReportData): Chart {
  const f = FRAME;
  const title = `Best ${d.valueLabel} over time`;
  const starts = d.trials.map((t) => ms(t.startedAt)).filter(Number.isFinite);
  const done = d.trials
    .filter((t) => t.value !== null && (t.state === 'completed' || t.state === 'pruned') && Number.isFinite(ms(t.finishedAt)))
    .sort((a, b) => ms(a.finishedAt) - ms(b.finishedAt) || a.number - b.number);
  const caption =
    'Each dot is a finished trial, placed at the moment it finished (completed: its final value; pruned: its value at the rung where it stopped). ' +
    'The line is the lowest value seen so far. Time runs from the start of the first trial.';
  const sampled = done.length > MAX_DOTS ? ` Dots: the ${Math.floor(MAX_DOTS / 4)} best and an even sample of the rest (${MAX_DOTS} of ${done.length}); the line uses all.` : '';
  const parts = [svgOpen(f, title)];
  if (done.length === 0 || starts.length === 0) {
    parts.push(emptyNotice(f, 'no finished trial yet'), '</svg>');
    return { id: 'best-so-far', title, caption, svg: parts.join('') };
  }
  const t0 = Math.min(...starts);
  const xEnd = Math.max(ms(done[done.length - 1]!.finishedAt), t0 + 1);
  const ta = timeAxis(t0, xEnd - t0);
  const x = linearScale([0, (xEnd - t0) / ta.div], plotX(f));
  const values = done.map((t) => t.value!);
  const y = linearScale(valueDomain(Math.min(...values), Math.max(...values)), plotY(f));
  parts.push(axisBottom(f, x, `wall-clock time since the first trial started (${ta.unit})`), axisLeft(f, y, d.valueLabel));

  let best = Infinity;
  let path = '';
  for (const t of done) {
    const xt = x.map((ms(t.finishedAt) - t0) / ta.div);
    if (t.value! < best) {
      best = t.value!;
      const yt = y.map(best);
      path += path === '' ? `M${px(xt)} ${px(yt)}` : `H${px(xt)}V${px(yt)}`;
    }
  }
  path += `H${px(plotX(f)[1])}`;
  // The line uses every trial; dots are capped like the other per-trial charts.
  const dots = sampleTrials(done, MAX_DOTS);
  for (const t of dots) {
    const tip = `trial ${t.number} (${t.state}): ${fmt(t.value)}, ${t.epochs} epoch(s), at ${fmtSeconds((ms(t.finishedAt) - t0) / 1000)}`;
    parts.push(
      `<circle class="mark" cx="${px(x.map((ms(t.finishedAt) - t0) / ta.div))}" cy="${px(y.map(t.value))}" r="3" fill="${STATE_COLORS[t.state]}" fill-opacity="0.55"><title>${esc(tip)}</title></circle>`,
    );
  }
  parts.push(`<path class="mark" d="${path}" fill="none" stroke="#c0392b" stroke-width="2.2"><title>best so far: ${esc(fmt(best))}</title></path>`);
  parts.push(
    legend(f, [
      { label: 'best so far', color: '#c0392b', shape: 'line' },
      ...(['completed', 'pruned'] as const).filter((s) => done.some((t) => t.state === s)).map((s) => ({ label: s, color: STATE_COLORS[s], shape: 'dot' as const })),
    ]),
    '</svg>',
  );
  return { id: 'best-so-far', title, caption: caption + sampled, svg: parts.join('') };
}
