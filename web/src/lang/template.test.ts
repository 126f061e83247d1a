import { describe, expect, it } from "vitest";
import { MAX_CHARS, templateProblem } from "./template";

describe("templateProblem (lang's template rule)", () => {
  it("takes a template with {name} within 500 characters, newlines and tabs included", () => {
    expect(templateProblem("Salut, {name} !")).toBeUndefined();
    expect(templateProblem("Hej\t{name}\n")).toBeUndefined();
    expect(templateProblem(`{name}${"é".repeat(MAX_CHARS - 6)}`)).toBeUndefined();
  });

  it("refuses what lang refuses", () => {
    expect(templateProblem("Salut !")).toBe("The template must contain {name}, where the name goes.");
    expect(templateProblem("Salut, {Name} !")).toMatch(/must contain \{name\}/);
    expect(templateProblem(`{name}${"é".repeat(MAX_CHARS - 5)}`)).toBe("The template is 501 characters long; at most 500 are allowed.");
    expect(templateProblem("Salut\u0007 {name}")).toBe("The template must not contain control characters.");
  });
});
