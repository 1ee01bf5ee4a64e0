/**
 * The report page: one self-contained HTML file (inline CSS, inline SVG, a few lines of
 * inline script, no external resource), so it opens offline and can be mailed around.
 */
import { TRIAL_STATES } from '../storage/storage.js';
import { fmt, fmtParams, fmtSeconds, ms, type Chart } from './chart.js';
import { bestSoFarChart } from './charts/best-so-far.js';
import { learningCurvesChart } from './charts/learning-curves.js';
import { parallelCoordinatesChart } from './charts/parallel-coordinates.js';
import { paramScatterChart } from './charts/param-scatter.js';
import { timelineChart } from './charts/timeline.js';
import type { ReportData } from './data.js';
import { esc, STATE_COLORS } from './svg.js';
import { trialsTable } from './trials-table.js';

const CSS = `
:root{color-scheme:light}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1d2330;background:#f4f5f7;margin:0}
main{max-width:940px;margin:0 auto;padding:24px 20px 48px}
h1{font-size:24px;margin:0 0 4px}
h2{font-size:17px;margin:0 0 6px}
.sub{color:#5a6372;margin:0 0 16px}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:0 0 18px}
.card{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:8px 12px;min-width:110px}
.card b{display:block;font-size:18px}
.card span{color:#5a6372;font-size:12px}
.best{background:#fff;border:1px solid #dde1e7;border-left:4px solid #c0392b;border-radius:6px;padding:8px 12px;margin:0 0 18px}
figure{background:#fff;border:1px solid #dde1e7;border-radius:6px;margin:0 0 18px;padding:14px 16px 10px}
figure svg{width:100%;height:auto;display:block}
figcaption{color:#5a6372;font-size:12.5px;margin-top:6px}
svg text{font:11px system-ui,"DejaVu Sans",sans-serif;fill:#3a4250}
svg .axis line{stroke:#8a93a0;stroke-width:1}
svg .axis line.grid{stroke:#e7eaee}
svg .axis .title{font-size:12px;fill:#1d2330}
svg .legend text{font-size:11.5px}
svg .empty{font-size:14px;fill:#8a93a0}
svg .rung text{fill:#7a4b00;font-size:10.5px}
svg .sep{stroke:#dde1e7}
svg .lane-owner{font-weight:600;font-size:10.5px}
svg .lane{fill:#5a6372;font-size:10.5px}
svg .in-bar{fill:#fff;font-size:10px}
svg .halo{paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}
svg .mark:hover{stroke-width:3;stroke-opacity:1;fill-opacity:1}
table.trials{border-collapse:collapse;width:100%;font-size:12.5px;background:#fff}
table.trials th,table.trials td{padding:3px 8px;border-bottom:1px solid #eceef2;text-align:left;white-space:nowrap}
table.trials td:last-child{white-space:normal;color:#a02020}
table.trials th{position:sticky;top:0;background:#f0f2f5;cursor:pointer;user-select:none}
table.trials .num{text-align:right;font-variant-numeric:tabular-nums}
table.trials tr:hover td{background:#f6f8fb}
.tablewrap{max-height:640px;overflow:auto;border:1px solid #dde1e7;border-radius:6px}
.state{display:inline-block;width:9px;height:9px;border-radius:50%;margin-right:6px}
.empty{color:#8a93a0}
footer{color:#8a93a0;font-size:12px;margin-top:24px}
`;

/*
 * Runs when the page loads: counts, per chart, the data marks the browser actually laid
 * out (a non-empty bounding box) and records the count in data-drawn (the headless test
 * reads it); makes the table sortable by clicking a heading.
 */
const SCRIPT = `
for (const fig of document.querySelectorAll('figure[data-chart]')) {
  let n = 0;
  for (const m of fig.querySelectorAll('.mark')) { const b = m.getBBox(); if (b.width > 0 || b.height > 0) n++; }
  fig.setAttribute('data-drawn', String(n));
}
for (const th of document.querySelectorAll('table.trials th')) {
  th.addEventListener('click', () => {
    const tbody = th.closest('table').tBodies[0];
    const col = Number(th.dataset.col);
    const dir = th.dataset.dir === 'asc' ? -1 : 1;
    th.dataset.dir = dir === 1 ? 'asc' : 'desc';
    const key = (tr) => tr.cells[col].dataset.v;
    const rows = [...tbody.rows].sort((a, b) => {
      const x = key(a), y = key(b), nx = Number(x), ny = Number(y);
      if (x === '' || y === '') return (x === '') - (y === '');
      return (Number.isNaN(nx) || Number.isNaN(ny) ? x.localeCompare(y) : nx - ny) * dir;
    });
    tbody.append(...rows);
  });
}
`;

function figure(c: Chart): string {
  return `<figure data-chart="${c.id}"><h2>${esc(c.title)}</h2>${c.svg}<figcaption>${esc(c.caption)}</figcaption></figure>`;
}

function describeSpace(d: ReportData): string {
  return Object.entries(d.study.space)
    .map(([k, v]) => {
      if (v.type === 'categorical') return `${k} ∈ {${v.choices.map(String).join(', ')}}`;
      const log = v.type === 'loguniform' || (v.type === 'int' && v.log === true);
      return `${k} ~ ${v.type === 'int' ? 'int' : v.type}(${fmt(v.low)}, ${fmt(v.high)}${v.type === 'int' && log ? ', log' : ''})`;
    })
    .join('; ');
}

/** The whole page for one study. Pure: the same data gives the same bytes. */
export function renderReport(d: ReportData): string {
  const s = d.study;
  const counts = Object.fromEntries(TRIAL_STATES.map((st) => [st, d.trials.filter((t) => t.state === st).length])) as Record<string, number>;
  const completed = d.trials.filter((t) => t.state === 'completed' && t.value !== null);
  const best = completed.reduce<(typeof completed)[number] | undefined>((b, t) => (b === undefined || t.value! < b.value! || (t.value === b.value && t.number < b.number) ? t : b), undefined);
  const starts = d.trials.map((t) => ms(t.startedAt)).filter(Number.isFinite);
  const ends = d.trials.map((t) => ms(t.finishedAt)).filter(Number.isFinite);
  const span = starts.length && ends.length ? (Math.max(...ends) - Math.min(...starts)) / 1000 : NaN;
  const settings = s.settings;
  const sched = d.scheduler === 'fifo' ? `fifo, ${fmt(settings['epochs'])} epoch${settings['epochs'] === 1 ? '' : 's'}` : `${d.scheduler}, r_min ${fmt(settings['minEpochs'])}, r_max ${fmt(settings['epochs'])}, eta ${fmt(settings['eta'])}`;
  const objective = s.model !== null ? `${s.objective} / ${s.model}` : s.objective;
  const card = (v: unknown, label: string, color?: string): string =>
    `<div class="card"${color ? ` style="border-top:3px solid ${color}"` : ''}><b>${esc(v)}</b><span>${esc(label)}</span></div>`;
  const cards = [
    card(d.trials.length, 'trials'),
    ...TRIAL_STATES.filter((st) => counts[st]! > 0 || st === 'completed').map((st) => card(counts[st], st, STATE_COLORS[st])),
    card(Number.isFinite(span) ? fmtSeconds(span) : '-', 'wall-clock'),
  ];
  const table = trialsTable(d);
  const charts = [bestSoFarChart(d), learningCurvesChart(d), timelineChart(d), parallelCoordinatesChart(d), paramScatterChart(d)];
  const subset = settings['trainSubset'];
  return [
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${esc(`hpo report: ${s.name}`)}</title><style>${CSS}</style></head><body><main>`,
    `<h1>Study “${esc(s.name)}”</h1>`,
    `<p class="sub">${esc(objective)} · ${esc(sched)} · sampler ${esc(fmt(settings['sampler'] ?? 'random'))}` +
      `${typeof subset === 'number' ? ` · first ${esc(subset)} training images` : ''} · seed ${esc(s.seed)} · created ${esc(s.createdAt)}<br>` +
      `search space: ${esc(describeSpace(d))}</p>`,
    `<div class="cards">${cards.join('')}</div>`,
    best
      ? `<div class="best"><b>Best: trial ${best.number}</b>, ${esc(d.valueLabel)} ${esc(fmt(best.value))} after ${best.epochs} epoch(s) · ${esc(fmtParams(best.params))}</div>`
      : `<div class="best">${d.trials.length === 0 ? 'No trials yet.' : 'No completed trial yet.'}</div>`,
    ...charts.map(figure),
    `<figure data-table="trials"><h2>Trials</h2><div class="tablewrap">${table.html}</div><figcaption>${esc(table.note)}</figcaption></figure>`,
    `<footer>Written by tfjs-hpo (hpo report) at ${esc(d.generatedAt)}. Self-contained: no network needed to view it.</footer>`,
    `</main><script>${SCRIPT}</script></body></html>\n`,
  ].join('');
}
