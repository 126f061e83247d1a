// lang's rule for a message template, mirrored so the form can say what is
// wrong before sending (keep in step with services/lang/src/template.rs;
// lang checks again and answers 422).

export const PLACEHOLDER = "{name}";
export const MAX_CHARS = 500;

/** Why lang would refuse `template`, or undefined when it would take it. */
export function templateProblem(template: string): string | undefined {
  const chars = Array.from(template).length;
  if (chars > MAX_CHARS) return `The template is ${chars} characters long; at most ${MAX_CHARS} are allowed.`;
  if (!template.includes(PLACEHOLDER)) return `The template must contain ${PLACEHOLDER}, where the name goes.`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(template)) return "The template must not contain control characters.";
  return undefined;
}
