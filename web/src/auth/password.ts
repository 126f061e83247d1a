// Password rules, mirrored from auth's `check_strength`
// (services/auth/src/password.rs), so the form says what auth would refuse
// before the request is sent. Keep the two in step: the unit tests replay
// auth's own cases.

/** bcrypt reads at most 72 bytes; auth refuses longer passwords rather than cut them. */
export const MAX_BYTES = 72;
export const MIN_BYTES = 10;
const MIN_DISTINCT_CHARS = 5;

/** Passwords of at least ten characters that top breach lists (auth's COMMON). */
const COMMON = [
  "1234567890", "12345678910", "123456789a", "0123456789", "0987654321", "1111111111", "1q2w3e4r5t",
  "1qaz2wsx3edc", "a123456789", "abcd123456", "abc1234567", "qwertyuiop", "qwerty1234", "qwerty12345",
  "asdfghjkl1", "asdfghjkl;", "zxcvbnm123", "iloveyou12", "iloveyou123", "password12", "password123",
  "password1234", "passw0rd12", "p@ssw0rd12", "p@ssword123", "letmein123", "welcome123", "welcome1234",
  "administrator", "admin12345", "admin123456", "football12", "baseball12", "basketball", "sunshine12",
  "princess12", "starwars12", "trustno1234", "superman12", "michael123", "charlie123", "1234qwerasdf",
  "qazwsxedcrfv", "q1w2e3r4t5", "q1w2e3r4t5y6", "zaq12wsxcde3", "changeme123", "default123", "computer12",
  "internet12", "whatever12", "dragon1234", "monkey1234", "shadow1234", "master1234", "liverpool1",
  "chelsea123", "123123123a", "1234554321", "9876543210", "aaaaaaaaaa", "qweasdzxc1",
];

/** Words that, padded with digits or symbols, make up most guessed passwords (auth's COMMON_WORDS). */
const COMMON_WORDS = [
  "password", "passw0rd", "p@ssw0rd", "p@ssword", "qwerty", "qwertyuiop", "letmein", "welcome", "admin",
  "administrator", "iloveyou", "monkey", "dragon", "football", "baseball", "sunshine", "princess",
  "starwars", "superman", "trustno1", "master", "shadow", "michael", "charlie", "changeme", "default",
  "secret", "login", "abc", "abcdef", "azerty", "hello", "test", "user", "guest", "root",
];

/** Runs that keyboards and alphabets make easy (auth's SEQUENCES). */
const SEQUENCES = [
  "abcdefghijklmnopqrstuvwxyz",
  "zyxwvutsrqponmlkjihgfedcba",
  "01234567890",
  "09876543210",
  "qwertyuiopasdfghjklzxcvbnm",
  "mnbvcxzlkjhgfdsapoiuytrewq",
  "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
  "azertyuiopqsdfghjklmwxcvbn",
];

export type RuleId = "length" | "distinct" | "common" | "sequence" | "email";

export interface Rule {
  id: RuleId;
  /** Shown whether met or not. */
  label: string;
  met: boolean;
}

export interface Strength {
  ok: boolean;
  rules: Rule[];
  /** auth's own 422 message when it would refuse the password, else undefined. */
  error?: string;
}

/** Length in UTF-8 bytes, as Rust's `str::len`. */
export function byteLength(s: string): number {
  return new TextEncoder().encode(s).length;
}

// Rust's `char::is_alphabetic` is Unicode's Alphabetic property.
const NON_ALPHABETIC_EDGES = /^\P{Alphabetic}+|\P{Alphabetic}+$/gu;

function isCommon(lower: string): boolean {
  if (COMMON.includes(lower)) return true;
  // "Password123!", "!!welcome2024": a common word with non-letters around it.
  const core = lower.replace(NON_ALPHABETIC_EDGES, "");
  const chars = Array.from(core);
  return COMMON_WORDS.includes(core) || (byteLength(core) >= 3 && chars.every((c) => c === chars[0]));
}

/**
 * Checks `password` for the account `email` exactly as auth does. auth
 * checks against the normalised address (trimmed, lowercased), so this does too.
 */
export function checkStrength(password: string, email: string): Strength {
  const missing: string[] = [];
  const len = byteLength(password);
  const lengthOk = len >= MIN_BYTES && len <= MAX_BYTES;
  if (len < MIN_BYTES) missing.push(`at least ${MIN_BYTES} bytes (it has ${len})`);
  if (len > MAX_BYTES) missing.push(`at most ${MAX_BYTES} bytes, bcrypt's limit (it has ${len})`);

  const lower = password.toLowerCase();
  const distinctOk = new Set(Array.from(lower)).size >= MIN_DISTINCT_CHARS;
  if (!distinctOk) missing.push(`at least ${MIN_DISTINCT_CHARS} different characters`);

  // As in auth, a sequence is only looked for when the password is not common.
  const common = isCommon(lower);
  const sequence = !common && len >= 4 && SEQUENCES.some((s) => s.includes(lower));
  if (common) missing.push("to not be a common password or a common word padded with digits or symbols");
  else if (sequence) missing.push("to not be a keyboard or alphabet sequence");

  const local = email.trim().toLowerCase().split("@")[0] ?? "";
  const containsEmail = Array.from(local).length >= 3 && lower.includes(local);
  if (containsEmail) missing.push("to not contain your email address");

  const rules: Rule[] = [
    { id: "length", label: `${MIN_BYTES} to ${MAX_BYTES} bytes long (it has ${len})`, met: lengthOk },
    { id: "distinct", label: `At least ${MIN_DISTINCT_CHARS} different characters`, met: distinctOk },
    { id: "common", label: "Not a common password, nor a common word padded with digits or symbols", met: !common },
    { id: "sequence", label: "Not a keyboard or alphabet sequence", met: !sequence },
    { id: "email", label: "Does not contain your email address", met: !containsEmail },
  ];
  const ok = missing.length === 0;
  return { ok, rules, error: ok ? undefined : `the password is too weak; it needs ${missing.join(", ")}` };
}
