/**
 * Which storage failures are worth retrying: the database or the path to it is down for a
 * while (a restart, a failover, a network blip, another process holding the lock), as
 * opposed to a failure that retrying cannot fix (bad SQL, constraint, disk full, read-only).
 */

/** Socket-level errors of a server that is restarting or a network that is flapping. */
const NET = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/**
 * PostgreSQL SQLSTATEs: admin shutdown, crash shutdown, cannot connect now (starting up or
 * shutting down: restarts and failovers), serialization failure, deadlock, too many
 * connections (a restarting server that is filling up again). Class 08 (connection
 * exceptions) is matched by prefix.
 */
const PG = new Set(['57P01', '57P02', '57P03', '40001', '40P01', '53300']);

/** node-postgres reports a dropped socket or a connect timeout without a code. */
const PG_MESSAGES =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|the database system is (?:starting up|shutting down|in recovery mode)/i;

/**
 * Whether `e` (or any error in its `cause` chain) is a transient storage failure.
 * SQLITE_BUSY counts: it arrives only after the busy timeout, while another process holds
 * the write lock; the lock will be released.
 */
export function isTransient(e: unknown): boolean {
  for (let cur: unknown = e, depth = 0; cur != null && depth < 8; depth++) {
    const err = cur as { code?: unknown; message?: unknown; errors?: unknown; cause?: unknown };
    const code = typeof err.code === 'string' ? err.code : undefined;
    if (code !== undefined) {
      if (NET.has(code) || PG.has(code) || /^08[0-9A-Z]{3}$/.test(code) || code.startsWith('SQLITE_BUSY')) return true;
    }
    // pg surfaces an AggregateError (one per address tried) when every connect fails.
    if (Array.isArray(err.errors) && err.errors.some((x) => isTransient(x))) return true;
    if (code === undefined && typeof err.message === 'string' && PG_MESSAGES.test(err.message)) return true;
    cur = err.cause;
  }
  return false;
}
