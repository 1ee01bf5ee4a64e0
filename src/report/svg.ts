/**
 * SVG building blocks shared by the report's charts: escaping, the plot frame, axes with
 * ticks, labels and grid, the colours of trial states and of values.
 */
import type { TrialState } from '../storage/storage.js';
import { px, type Scale } from './scale.js';

/** Escape text for HTML/SVG content and attribute values. */
export function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Outer size and the margins around the plot area. */
export interface Frame {
  readonly width: number;
  readonly height: number;
  readonly left: number;
  readonly right: number;
  readonly top: number;
  readonly bottom: number;
}

export const plotX = (f: Frame): [number, number] => [f.left, f.width - f.right];
export const plotY = (f: Frame): [number, number] => [f.height - f.bottom, f.top];

export const STATE_COLORS: Readonly<Record<TrialState, string>> = {
  completed: '#1f6fb4',
  pruned: '#8c96a3',
  failed: '#d62728',
  running: '#2ca02c',
  interrupted: '#ff9f1c',
};

/** A perceptually ordered ramp (viridis stops), stopping short of its pale yellow end. */
const RAMP = ['#440154', '#3b528b', '#21918c', '#5ec962', '#b5de2b'];

/** Colour for t in [0, 1]: 0 is the best trial (dark), 1 the worst (light green). */
export function rampColor(t: number): string {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 1)) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(x));
  const f = x - i;
  const a = hex(RAMP[i]!);
  const b = hex(RAMP[i + 1]!);
  const c = a.map((v, k) => Math.round(v + (b[k]! - v) * f));
  return `#${c.map((v) => v.toString(16).padStart(2, '0')).join('')}`;
}
const hex = (s: string): number[] => [1, 3, 5].map((i) => parseInt(s.slice(i, i + 2), 16));

/** Open an <svg> with a viewBox (it scales with the page) and an accessible label. */
export function svgOpen(f: Frame, label: string): string {
  return `<svg viewBox="0 0 ${f.width} ${f.height}" width="${f.width}" height="${f.height}" role="img" aria-label="${esc(label)}">`;
}

/** Bottom axis: grid lines up the plot, tick marks, labels and the axis title. */
export function axisBottom(f: Frame, s: Scale, title: string, approx = 6): string {
  const [y0, y1] = plotY(f);
  const ticks = s.ticks(approx);
  const parts = [`<g class="axis">`, `<line x1="${f.left}" x2="${f.width - f.right}" y1="${y0}" y2="${y0}"/>`];
  for (const t of ticks) {
    parts.push(`<line class="grid" x1="${px(t.at)}" x2="${px(t.at)}" y1="${y1}" y2="${y0}"/>`);
    parts.push(`<line x1="${px(t.at)}" x2="${px(t.at)}" y1="${y0}" y2="${y0 + 5}"/>`);
    parts.push(`<text x="${px(t.at)}" y="${y0 + 17}" text-anchor="middle">${esc(t.label)}</text>`);
  }
  parts.push(`<text class="title" x="${px((f.left + f.width - f.right) / 2)}" y="${f.height - 6}" text-anchor="middle">${esc(title)}</text>`, '</g>');
  return parts.join('');
}

/** Left axis: grid lines across the plot, tick marks, labels and the rotated axis title. */
export function axisLeft(f: Frame, s: Scale, title: string, approx = 5): string {
  const [x0, x1] = plotX(f);
  const ticks = s.ticks(approx);
  const parts = [`<g class="axis">`, `<line x1="${x0}" x2="${x0}" y1="${f.top}" y2="${f.height - f.bottom}"/>`];
  for (const t of ticks) {
    parts.push(`<line class="grid" x1="${x0}" x2="${x1}" y1="${px(t.at)}" y2="${px(t.at)}"/>`);
    parts.push(`<line x1="${x0 - 5}" x2="${x0}" y1="${px(t.at)}" y2="${px(t.at)}"/>`);
    parts.push(`<text x="${x0 - 8}" y="${px(t.at + 4)}" text-anchor="end">${esc(t.label)}</text>`);
  }
  const cy = (f.top + f.height - f.bottom) / 2;
  parts.push(`<text class="title" transform="translate(14 ${px(cy)}) rotate(-90)" text-anchor="middle">${esc(title)}</text>`, '</g>');
  return parts.join('');
}

/** A "nothing to draw" notice in the middle of an empty plot. */
export function emptyNotice(f: Frame, message: string): string {
  return `<text class="empty" x="${f.width / 2}" y="${f.height / 2}" text-anchor="middle">${esc(message)}</text>`;
}

/** Legend entries in a row at the top right: swatch (line, dash or dot) and label. */
export interface LegendEntry {
  readonly label: string;
  readonly color: string;
  readonly shape: 'line' | 'dash' | 'dot' | 'ring' | 'box' | 'cross';
}

export function legend(f: Frame, entries: readonly LegendEntry[]): string {
  let x = f.width - f.right;
  const y = Math.max(12, f.top - 10);
  const parts: string[] = ['<g class="legend">'];
  for (const e of [...entries].reverse()) {
    // Text width estimated at 0.62 em per character (DejaVu Sans / system-ui at 11.5 px).
    const w = 32 + e.label.length * 7.1;
    x -= w;
    parts.push(swatch(e, x, y), `<text x="${x + 18}" y="${y}">${esc(e.label)}</text>`);
  }
  parts.push('</g>');
  return parts.join('');
}

/** The little symbol in front of a legend label, its baseline at y. */
function swatch(e: LegendEntry, x: number, y: number): string {
  switch (e.shape) {
    case 'dot':
      return `<circle cx="${x + 6}" cy="${y - 4}" r="4" fill="${e.color}"/>`;
    case 'ring':
      return `<circle cx="${x + 6}" cy="${y - 4}" r="3.5" fill="none" stroke="${e.color}" stroke-width="1.3"/>`;
    case 'box':
      return `<rect x="${x}" y="${y - 9}" width="12" height="10" fill="${e.color}"/>`;
    case 'cross':
      return `<path d="M${x + 2} ${y - 8}l8 8m0 -8l-8 8" stroke="${e.color}" stroke-width="2"/>`;
    case 'line':
    case 'dash':
      return `<line x1="${x}" x2="${x + 14}" y1="${y - 4}" y2="${y - 4}" stroke="${e.color}" stroke-width="2"${e.shape === 'dash' ? ' stroke-dasharray="4 3"' : ''}/>`;
  }
}
