// Email checks mirrored from auth's `email::normalize`
// (services/auth/src/email.rs): the same refusals, in the same words.

export const MAX_BYTES = 254;

/** Why `raw` is not an address auth would accept, or undefined. */
export function emailProblem(raw: string): string | undefined {
  const email = raw.trim().toLowerCase();
  const bytes = new TextEncoder().encode(email).length;
  if (!email) return "email is required";
  if (bytes > MAX_BYTES) return `email is ${bytes} bytes long; at most ${MAX_BYTES} are allowed`;
  if (/[\s\p{Cc}]/u.test(email)) return "email must not contain spaces or control characters";
  const at = email.indexOf("@");
  if (at < 0) return "email must contain an @, e.g. ada@example.com";
  const local = email.slice(0, at);
  const domain = email.slice(at + 1);
  if (!local || new TextEncoder().encode(local).length > 64) return "email needs 1–64 bytes before the @";
  const labelsOk = domain.split(".").every((l) => l !== "" && !l.startsWith("-") && !l.endsWith("-"));
  if (domain.includes("@") || !domain.includes(".") || !labelsOk || /[()<>[\]\\,;:"]/.test(domain)) {
    return "email must end in a domain name such as example.com";
  }
  return undefined;
}
