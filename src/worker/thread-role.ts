import { isMainThread } from 'node:worker_threads';

/**
 * Whether this code runs on the process's main thread. The training backend needs it (the
 * native addon must be loaded on the main thread first, see training/backend.ts); it asks
 * here so that only src/worker/ imports the threads API.
 */
export function onMainThread(): boolean {
  return isMainThread;
}
