import { describe, expect, it } from "vitest";
import { emailProblem } from "./email";

// auth's cases (services/auth/src/email.rs).
describe("emailProblem mirrors auth's email::normalize", () => {
  it("accepts what auth accepts", () => {
    for (const ok of ["  Ada.Lovelace@Example.COM ", "ZOË@Exämple.org", "O'Brien+x\";--@example.com"]) {
      expect(emailProblem(ok), ok).toBeUndefined();
    }
  });

  it("refuses what cannot be an address", () => {
    for (const bad of ["", "   ", "ada", "ada@", "@example.com", "ada@example", "a da@example.com", "ada@@example.com",
      "ada@example..com", "ada@-example.com", "ada@exa\u0000mple.com"]) {
      expect(emailProblem(bad), JSON.stringify(bad)).toBeDefined();
    }
    expect(emailProblem(`${"a".repeat(250)}@example.com`)).toContain("254");
    expect(emailProblem("ada")).toBe("email must contain an @, e.g. ada@example.com");
  });
});
