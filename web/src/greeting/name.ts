// greeter's and gateway's rule for a name to greet, mirrored so the forms
// say what is wrong before sending (the services check again: 1-100
// characters after trimming).

export const MAX_NAME = 100;

/** Why the services would refuse `name` (after trimming), or undefined. */
export function nameProblem(name: string): string | undefined {
  const trimmed = name.trim();
  if (!trimmed) return "Enter a name to greet.";
  if (Array.from(trimmed).length > MAX_NAME) return `The name must be at most ${MAX_NAME} characters.`;
  return undefined;
}
