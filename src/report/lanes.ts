/**
 * Lanes of the per-worker timeline. Storage records who ran a trial (owner =
 * host:pid:token, one per process) and when, not which worker thread: each thread runs one
 * trial at a time, so giving every trial the first lane of its process that is free when it
 * starts reproduces how many threads were busy and when, without a thread column.
 */

export interface Interval {
  readonly id: number;
  readonly owner: string;
  /** ms since the epoch */
  readonly start: number;
  readonly end: number;
}

export interface Placed extends Interval {
  /** Lane within its owner, from 0. */
  readonly lane: number;
  /** Lane index across all owners (owners stacked in order of their first start). */
  readonly row: number;
}

export interface LaneLayout {
  readonly placed: readonly Placed[];
  /** Owners in display order, with their first row and number of lanes. */
  readonly owners: readonly { owner: string; firstRow: number; lanes: number }[];
  readonly rows: number;
}

/** First-free-lane assignment per owner; intervals of one owner that touch share a lane. */
export function assignLanes(intervals: readonly Interval[]): LaneLayout {
  const byOwner = new Map<string, Interval[]>();
  const sorted = [...intervals].sort((a, b) => a.start - b.start || a.id - b.id);
  for (const iv of sorted) {
    let list = byOwner.get(iv.owner);
    if (list === undefined) byOwner.set(iv.owner, (list = []));
    list.push(iv);
  }
  const placed: Placed[] = [];
  const owners: { owner: string; firstRow: number; lanes: number }[] = [];
  let row = 0;
  for (const [owner, list] of byOwner) {
    const freeAt: number[] = [];
    for (const iv of list) {
      let lane = freeAt.findIndex((t) => t <= iv.start);
      if (lane < 0) lane = freeAt.push(0) - 1;
      freeAt[lane] = Math.max(iv.end, iv.start);
      placed.push({ ...iv, lane, row: row + lane });
    }
    owners.push({ owner, firstRow: row, lanes: freeAt.length });
    row += freeAt.length;
  }
  return { placed, owners, rows: row };
}
