/**
 * Error classes that carry their context. The CLI prints `message` as one line and exits
 * non-zero for every subclass of HpoError; anything else is a bug and shows its stack.
 */
export class HpoError extends Error {
  /** Process exit code the CLI uses for this error. */
  readonly exitCode: number = 1;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A search space (file or built-in) is malformed; `param` names the culprit. */
export class SpaceError extends HpoError {
  constructor(
    readonly param: string | undefined,
    problem: string,
  ) {
    super(param === undefined ? `search space: ${problem}` : `search space: parameter "${param}": ${problem}`);
  }
}

/** Bad command-line or API input that is not about the search space. */
export class UsageError extends HpoError {}

/** The dataset is missing, truncated or corrupt. */
export class DatasetError extends HpoError {}

/** A storage operation failed; carries the statement and parameters when there is one. */
export class StorageError extends HpoError {
  constructor(
    message: string,
    readonly sql?: string,
    readonly params?: readonly unknown[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A study exists with different settings than the ones requested. */
export class StudyMismatchError extends HpoError {}

/** A requested training backend cannot be loaded. */
export class BackendError extends HpoError {}

/** A user query tried to modify data through the read-only `hpo sql` connection. */
export class ReadOnlyError extends HpoError {}

/** A trial's objective threw, returned a non-finite value, or its thread died. */
export class TrialError extends HpoError {}

/**
 * A trial was stopped through no fault of its own (e.g. its thread was terminated because
 * another trial on it overran its time limit): it is stored interrupted and runs again.
 */
export class TrialInterruptedError extends TrialError {}

export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message.split('\n')[0] ?? e.name;
  return String(e);
}
