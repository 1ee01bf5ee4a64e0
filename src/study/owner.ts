import { hostname } from 'node:os';

/** Identity of this process in the trials.owner column: "host:pid:started". */
export function makeOwner(): string {
  return `${hostname()}:${process.pid}:${Date.now().toString(36)}`;
}

export interface ParsedOwner {
  readonly host: string;
  readonly pid: number;
}

export function parseOwner(owner: string): ParsedOwner | undefined {
  const m = /^(.*):(\d+):[0-9a-z]+$/.exec(owner);
  if (!m) return undefined;
  return { host: m[1]!, pid: Number(m[2]) };
}

/** Is `owner` a process on this host that no longer exists? (Other hosts: unknowable here.) */
export function isDeadLocalOwner(owner: string, self: string): boolean {
  if (owner === self) return false;
  const p = parseOwner(owner);
  if (!p || p.host !== hostname()) return false;
  if (p.pid === process.pid) return true; // an earlier run in this very process (tests, API)
  try {
    process.kill(p.pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
