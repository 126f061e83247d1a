import { execFile } from "node:child_process";

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion (no shell); a non-zero exit is a result, not an error. */
export function run(file: string, args: string[], timeoutMs = 30_000): Promise<Ran> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 16 << 20, encoding: "utf8" }, (error, stdout, stderr) => {
      if (error && typeof error.code !== "number") {
        reject(new Error(`${file} could not run: ${error.message}${stderr ? `: ${stderr.trim()}` : ""}`));
        return;
      }
      resolve({ code: typeof error?.code === "number" ? error.code : 0, stdout, stderr });
    });
  });
}
