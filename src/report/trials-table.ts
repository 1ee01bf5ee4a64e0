/** The trials table of the report: one row per trial, one column per parameter. */
import { fmt, fmtSeconds, ms } from './chart.js';
import type { ReportData } from './data.js';
import { esc, STATE_COLORS } from './svg.js';

/** Above this many trials the table keeps the best ones (the rest: `hpo trials --csv`). */
export const MAX_ROWS = 1000;

export function trialsTable(d: ReportData): { html: string; note: string } {
  const names = Object.keys(d.study.space);
  let rows = d.trials;
  let note = 'Click a column heading to sort.';
  if (rows.length > MAX_ROWS) {
    rows = [...rows].sort((a, b) => (a.value ?? Infinity) - (b.value ?? Infinity) || a.number - b.number).slice(0, MAX_ROWS);
    note = `The ${MAX_ROWS} best of ${d.trials.length} trials, by value; all of them: hpo trials --study ${d.study.name} --csv. ${note}`;
  }
  if (d.trials.length === 0) return { html: '<p class="empty">No trials yet.</p>', note: '' };
  const head = ['#', 'state', 'value', 'epochs', ...names, 'duration', 'error'];
  const numeric = [true, false, true, true, ...names.map((n) => d.study.space[n]?.type !== 'categorical'), true, false];
  const out: string[] = ['<table class="trials"><thead><tr>'];
  head.forEach((h, i) => out.push(`<th data-col="${i}"${numeric[i] ? ' class="num"' : ''}>${esc(h)}</th>`));
  out.push('</tr></thead><tbody>');
  for (const t of rows) {
    const dur = (ms(t.finishedAt) - ms(t.startedAt)) / 1000;
    const cells: [string, unknown][] = [
      [String(t.number), t.number],
      [`<span class="state" style="background:${STATE_COLORS[t.state]}"></span>${esc(t.state)}`, t.state],
      [esc(fmt(t.value)), t.value ?? ''],
      [String(t.epochs), t.epochs],
      ...names.map((n): [string, unknown] => [esc(fmt(t.params[n])), t.params[n] ?? '']),
      [esc(fmtSeconds(dur)), Number.isFinite(dur) ? dur : ''],
      [t.error ? `<span title="${esc(t.error)}">${esc(t.error.length > 80 ? t.error.slice(0, 79) + '…' : t.error)}</span>` : '', t.error ?? ''],
    ];
    out.push(`<tr class="s-${t.state}">`);
    cells.forEach(([html, key], i) => out.push(`<td data-v="${esc(String(key))}"${numeric[i] ? ' class="num"' : ''}>${html}</td>`));
    out.push('</tr>');
  }
  out.push('</tbody></table>');
  return { html: out.join(''), note };
}
