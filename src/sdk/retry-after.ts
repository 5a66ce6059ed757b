/** Longest Retry-After honoured (seconds): a session lives 60 s, a wait must not outlast it. */
const MAX_RETRY_AFTER_SECONDS = 30;

export interface RetryAfterOptions {
  /** 429s honoured per request before giving up (default 5); each waits its Retry-After. */
  readonly maxRetries?: number;
  /** Injectable so tests need not wait. */
  readonly sleep?: (seconds: number) => Promise<void>;
}

const sleepFor = (seconds: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

/**
 * Sends, and after each 429 waits the server's Retry-After (capped; one second when it is
 * missing or unreadable) and sends again: the clients' half of the no-storm contract.
 * The server jitters Retry-After, so refused clients come back spread out.
 */
export async function honouringRetryAfter<R extends { readonly status: number; readonly headers: { readonly 'retry-after'?: string | undefined } }>(send: () => Promise<R>, options: RetryAfterOptions): Promise<R> {
  const sleep = options.sleep ?? sleepFor;
  for (let attempt = 0; ; attempt++) {
    const response = await send();
    if (response.status !== 429 || attempt >= (options.maxRetries ?? 5)) return response;
    const retryAfter = Number(response.headers['retry-after']);
    await sleep(Number.isInteger(retryAfter) && retryAfter >= 0 ? Math.min(retryAfter, MAX_RETRY_AFTER_SECONDS) : 1);
  }
}
