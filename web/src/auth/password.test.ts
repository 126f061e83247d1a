import { describe, expect, it } from "vitest";
import { byteLength, checkStrength } from "./password";

// auth's own cases (services/auth/src/password.rs, mod tests), replayed.
const weak = (p: string) => checkStrength(p, "ada.lovelace@example.com").error ?? "";

describe("checkStrength mirrors auth's check_strength", () => {
  it("accepts long unusual passwords", () => {
    for (const p of ["correct horse battery staple", "Tr0ub4dor&3xyz", "zoë-李-🦀-κωδικός", "ab1!cd".repeat(12)]) {
      expect(checkStrength(p, "ada@example.com"), p).toMatchObject({ ok: true, error: undefined });
    }
  });

  it("says what is missing, in auth's words", () => {
    expect(weak("short")).toContain("at least 10 bytes (it has 5)");
    expect(weak("abcd".repeat(19))).toContain("at most 72 bytes");
    expect(weak("aaaaaaaaaaaa")).toContain("5 different characters");
    for (const p of ["password123", "Password123!", "!!Welcome2024", "qwertyuiop", "1234567890", "administrator"]) {
      expect(weak(p), p).toContain("common");
    }
    expect(weak("abcdefghijkl")).toContain("sequence");
    expect(weak("my-ada.lovelace-pw")).toContain("email");
    const both = weak("pass");
    expect(both).toContain("10 bytes");
    expect(both).toContain("different");
  });

  it("builds the exact message auth sends with its 422", () => {
    expect(weak("aaaa")).toBe(
      "the password is too weak; it needs at least 10 bytes (it has 4), at least 5 different characters, " +
        "to not be a common password or a common word padded with digits or symbols",
    );
  });

  it("counts the limit in UTF-8 bytes, not characters", () => {
    const ok = "李子桃梅杏柿栗梨".repeat(3);
    expect(byteLength(ok)).toBe(72);
    expect(checkStrength(ok, "x@example.com").ok).toBe(true);
    expect(checkStrength(`${ok}a`, "x@example.com").ok).toBe(false);
    // Nine characters, but 27 bytes: long enough.
    expect(checkStrength("李子桃梅杏柿栗梨橙", "x@example.com").rules.find((r) => r.id === "length")?.met).toBe(true);
  });

  it("counts distinct characters case-insensitively", () => {
    expect(checkStrength("AaAaBbBbCcCcDd", "x@example.com").rules.find((r) => r.id === "distinct")?.met).toBe(false);
  });

  it("treats a repeated letter padded with digits as common", () => {
    expect(weak("zzz1234567")).toContain("common");
  });

  it("looks for a sequence only when the password is not common", () => {
    // "qwertyuiop" is common; the sequence message is not added on top.
    expect(weak("qwertyuiop")).not.toContain("sequence");
    expect(checkStrength("qwertyuiop", "x@example.com").rules.find((r) => r.id === "sequence")?.met).toBe(true);
  });

  it("compares against the normalised email's local part, and only from 3 characters", () => {
    expect(weak("xx-ADA.LOVELACE-yy")).toContain("email");
    expect(checkStrength("xx-ada.lovelace-yy", "  Ada.Lovelace@Example.com ").ok).toBe(false);
    expect(checkStrength("bo-correct-horse", "bo@example.com").ok).toBe(true);
    expect(checkStrength("correct horse battery", "").ok).toBe(true);
  });

  it("lists every rule, met or not, for the live feedback", () => {
    const { rules } = checkStrength("short", "ada@example.com");
    expect(rules.map((r) => [r.id, r.met])).toEqual([
      ["length", false],
      ["distinct", true],
      ["common", true],
      ["sequence", true],
      ["email", true],
    ]);
  });
});
