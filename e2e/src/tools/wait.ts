// Waiting for something the platform does in the background (events, watch
// counts), with a generous bound: a safety net, not a timing assertion.

import { setTimeout as sleep } from "node:timers/promises";

/** Polls `probe` until it gives a value, for at most `patienceMs`; the value and the wait in ms. */
export async function eventually<T>(
  what: string,
  patienceMs: number,
  probe: () => Promise<T | undefined>,
): Promise<[T, number]> {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    if (value !== undefined) return [value, Date.now() - started];
    if (Date.now() - started > patienceMs) throw new Error(`${what}: not within ${patienceMs} ms`);
    await sleep(50);
  }
}
