// One line per check, counted: `ok   name` or `FAIL name: why`, and the
// closing `browser: N passed, M failed` (as e2e/src/report.ts does).

export class Failure extends Error {}

/** Fails the current check with `message` unless `condition` holds. */
export function expect(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Failure(message);
}

export class Report {
  passed = 0;
  failed: string[] = [];
  private readonly started = performance.now();

  async check(name: string, body: () => Promise<void>): Promise<boolean> {
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

  summary(): string {
    const seconds = ((performance.now() - this.started) / 1000).toFixed(1);
    const lines = [`\n${this.passed + this.failed.length} checks in ${seconds} s`];
    if (this.failed.length) lines.push(`failed checks:\n${this.failed.map((f) => `  - ${f}`).join("\n")}`);
    lines.push(`browser: ${this.passed} passed, ${this.failed.length} failed`);
    return lines.join("\n");
  }
}
