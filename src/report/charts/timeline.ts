/**
 * Which trial ran when, one lane per worker (d2l's asynchronous scheduling figure).
 * Lanes are derived (see lanes.ts): storage knows the process, not the thread.
 */
import { parseOwner } from '../../study/owner.js';
import { fmt, fmtSeconds, ms, timeAxis, type Chart } from '../chart.js';
import type { ReportData } from '../data.js';
import { assignLanes } from '../lanes.js';
import { linearScale, px } from '../scale.js';
import { axisBottom, emptyNotice, esc, legend, STATE_COLORS, svgOpen, type Frame } from '../svg.js';

/** Above this many bars, the bars carry no tooltip (the trials table has the details). */
export const MAX_TIPS = 3000;

export function timelineChart(d: ReportData): Chart {
  const title = 'Trials per worker over time';
  const now = ms(d.generatedAt);
  const intervals = d.trials
    .filter((t) => t.owner !== null && Number.isFinite(ms(t.startedAt)))
    .map((t) => {
      const start = ms(t.startedAt);
      // Running (or interrupted without an end): drawn up to the last sign of life.
      const endRaw = Number.isFinite(ms(t.finishedAt)) ? ms(t.finishedAt) : t.state === 'running' ? now : ms(t.heartbeatAt);
      return { id: t.number, owner: t.owner!, start, end: Number.isFinite(endRaw) ? Math.max(endRaw, start) : start };
    });
  const layout = assignLanes(intervals);
  const processes = layout.owners.length;
  const caption =
    `One row per worker thread: storage records which process ran each trial and when (${processes} process${processes === 1 ? '' : 'es'} here), ` +
    'and each thread trains one trial at a time, so every trial is put in the first row of its process that is free when it starts; ' +
    'this reproduces how many threads were busy at each moment (not which thread ran which trial). Colour: the trial\'s state.' +
    (intervals.length > MAX_TIPS ? ` With ${intervals.length} trials the bars have no tooltips.` : '');
  const rowH = layout.rows > 60 ? 6 : layout.rows > 24 ? 10 : 20;
  const f: Frame = { width: 900, height: Math.max(120, 34 + 44 + layout.rows * rowH), left: 190, right: 24, top: 34, bottom: 44 };
  const parts = [svgOpen(f, title)];
  if (intervals.length === 0) {
    parts.push(emptyNotice(f, 'no trial has started yet'), '</svg>');
    return { id: 'timeline', title, caption, svg: parts.join('') };
  }
  const t0 = Math.min(...intervals.map((i) => i.start));
  const t1 = Math.max(...intervals.map((i) => i.end), t0 + 1);
  const ta = timeAxis(t0, t1 - t0);
  const x = linearScale([0, (t1 - t0) / ta.div], [f.left, f.width - f.right]);
  parts.push(axisBottom(f, x, `wall-clock time since the first trial started (${ta.unit})`));
  const rowY = (row: number): number => f.top + row * rowH;
  // Row labels: the process once (host and pid), then its lanes.
  for (const o of layout.owners) {
    const p = parseOwner(o.owner);
    const name = p ? `${p.host.length > 12 ? p.host.slice(0, 11) + '…' : p.host} pid ${p.pid}` : o.owner.slice(0, 20);
    const y0 = rowY(o.firstRow);
    parts.push(`<line class="sep" x1="4" x2="${f.width - f.right}" y1="${px(y0)}" y2="${px(y0)}"/>`);
    parts.push(`<text class="lane-owner" x="6" y="${px(y0 + Math.min(rowH, 14) - 2)}"><title>${esc(o.owner)}</title>${esc(name)}</text>`);
    if (rowH >= 10) {
      for (let l = 0; l < o.lanes; l++) {
        parts.push(`<text class="lane" x="${f.left - 6}" y="${px(rowY(o.firstRow + l) + rowH / 2 + 4)}" text-anchor="end">worker ${l + 1}</text>`);
      }
    }
  }
  // Every trial keeps its bar; tooltips only up to MAX_TIPS, so huge studies stay small files.
  const tips = layout.placed.length <= MAX_TIPS;
  const byNumber = new Map(d.trials.map((t) => [t.number, t]));
  for (const iv of layout.placed) {
    const t = byNumber.get(iv.id)!;
    const xa = x.map((iv.start - t0) / ta.div);
    const w = Math.max(1.5, x.map((iv.end - t0) / ta.div) - xa);
    const y = rowY(iv.row) + 1.5;
    const h = rowH - 3;
    const tip =
      `trial ${t.number} (${t.state}${t.value !== null ? `, ${fmt(t.value)}` : ''}, ${t.epochs} ep.), ` +
      `${fmtSeconds((iv.start - t0) / 1000)} to ${fmtSeconds((iv.end - t0) / 1000)}${t.error ? ` - ${t.error.slice(0, 100)}` : ''}`;
    parts.push(
      `<rect class="mark" x="${px(xa)}" y="${px(y)}" width="${px(w)}" height="${px(h)}" fill="${STATE_COLORS[t.state]}"${t.state === 'running' ? ' fill-opacity="0.55"' : ''}>${tips ? `<title>${esc(tip)}</title>` : ''}</rect>`,
    );
    const label = String(t.number);
    if (rowH >= 14 && w > label.length * 6.5 + 4) {
      parts.push(`<text class="in-bar" x="${px(xa + w / 2)}" y="${px(y + h / 2 + 4)}" text-anchor="middle">${label}</text>`);
    }
  }
  const present = new Set(d.trials.map((t) => t.state));
  parts.push(
    legend(
      f,
      (['completed', 'pruned', 'failed', 'interrupted', 'running'] as const).filter((s) => present.has(s)).map((s) => ({ label: s, color: STATE_COLORS[s], shape: 'box' as const })),
    ),
    '</svg>',
  );
  return { id: 'timeline', title, caption, svg: parts.join('') };
}
