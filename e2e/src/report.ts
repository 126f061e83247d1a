// One line per check, counted: `ok   name` or `FAIL name: why`.

export class Failure extends Error {}

/** Fails the current check with `message` unless `condition` holds. */
export function expect(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Failure(message);
}

/** Fails unless `actual` equals `expected` (compared as JSON). */
export function expectEqual(actual: unknown, expected: unknown, what: string): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Failure(`${what}: expected ${e}, got ${a}`);
}

export class Report {
  passed = 0;
  failed: string[] = [];
  skipped: string[] = [];

  section(title: string): void {
    console.log(`\n-- ${title}`);
  }

  /** Runs one check; a thrown error fails it and the run goes on. */
  async check(name: string, body: () => unknown | Promise<unknown>): Promise<boolean> {
    const start = performance.now();
    const took = () => `(${Math.round(performance.now() - start)} ms)`;
    try {
      await body();
      this.passed += 1;
      console.log(`ok   ${name} ${took()}`);
      return true;
    } catch (e) {
      const why = e instanceof Failure ? e.message : `unexpected error: ${e instanceof Error ? e.message : String(e)}`;
      this.failed.push(name);
      console.log(`FAIL ${name} ${took()}: ${why.replaceAll("\n", " ")}`);
      return false;
    }
  }

  skip(name: string, why: string): void {
    this.skipped.push(name);
    console.log(`skip ${name}: ${why}`);
  }

  /** The closing line CI reads: `e2e: N passed, N failed[, N skipped]`. */
  private readonly started = performance.now();

  summary(mode: string): string {
    const skipped = this.skipped.length ? `, ${this.skipped.length} skipped` : "";
    const seconds = ((performance.now() - this.started) / 1000).toFixed(1);
    const lines = [`\nmode: ${mode}; ${this.passed + this.failed.length} checks in ${seconds} s`];
    if (this.failed.length) lines.push(`failed checks:\n${this.failed.map((f) => `  - ${f}`).join("\n")}`);
    lines.push(`e2e: ${this.passed} passed, ${this.failed.length} failed${skipped}`);
    return lines.join("\n");
  }
}
