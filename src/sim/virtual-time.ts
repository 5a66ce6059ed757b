import type { Clock } from '../core/clock.js';

/**
 * Simulated time for fleets: attesters sleep on it (their Retry-After waits, their
 * token expiries) instead of on the wall clock, and the simulation jumps from one
 * wake-up to the next once every task is either finished or asleep. Hours of fleet
 * behaviour run in seconds, against a server that reads the same clock.
 * SIMULATION ONLY: nothing in the product waits on it.
 */
export class VirtualTime {
  #now: number;
  #busy = 0;
  #sequence = 0;
  readonly #heap: { at: number; order: number; wake: () => void }[] = [];
  readonly #errors: unknown[] = [];

  constructor(start: Date) {
    this.#now = start.getTime();
  }

  readonly clock: Clock = () => new Date(this.#now);

  /** Runs `task` at `time` as one unit of work; its failure is reported by `run`. */
  at(time: Date, task: () => Promise<void>): void {
    this.#push(time.getTime(), () => {
      this.#busy += 1;
      task()
        .catch((error: unknown) => this.#errors.push(error))
        .finally(() => {
          this.#busy -= 1;
        });
    });
  }

  /** What a task awaits instead of a timer: it yields its turn until the time comes. */
  readonly sleep = (seconds: number): Promise<void> => {
    this.#busy -= 1;
    return new Promise((resolve) =>
      this.#push(this.#now + seconds * 1000, () => {
        this.#busy += 1;
        resolve();
      }),
    );
  };

  /** Runs until nothing is scheduled; throws the first task failure, if any. */
  async run(): Promise<void> {
    for (;;) {
      while (this.#busy > 0) await new Promise((resolve) => setImmediate(resolve));
      const next = this.#heap[0];
      if (next === undefined) break;
      this.#now = Math.max(this.#now, next.at);
      while (this.#heap.length > 0 && this.#heap[0]!.at <= this.#now) this.#pop().wake();
    }
    if (this.#errors.length > 0) throw this.#errors[0];
  }

  // A binary heap by (time, insertion order): tens of thousands of sleepers, in order.
  #push(at: number, wake: () => void): void {
    const heap = this.#heap;
    heap.push({ at, order: this.#sequence++, wake });
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#before(i, parent)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  #pop(): { at: number; order: number; wake: () => void } {
    const heap = this.#heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const [left, right] = [2 * i + 1, 2 * i + 2];
        let smallest = i;
        if (left < heap.length && this.#before(left, smallest)) smallest = left;
        if (right < heap.length && this.#before(right, smallest)) smallest = right;
        if (smallest === i) break;
        [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
        i = smallest;
      }
    }
    return top;
  }

  #before(a: number, b: number): boolean {
    const x = this.#heap[a]!;
    const y = this.#heap[b]!;
    return x.at < y.at || (x.at === y.at && x.order < y.order);
  }
}
