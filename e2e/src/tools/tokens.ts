// Forged access tokens, made from a real one with node:crypto: each must be
// refused wherever a token is checked.

import { generateKeyPairSync, sign } from "node:crypto";

const b64 = (data: string | Buffer) => Buffer.from(data).toString("base64url");

function parts(token: string): { header: any; claims: any; signature: string } {
  const [h, c, s] = token.split(".");
  return {
    header: JSON.parse(Buffer.from(h, "base64url").toString()),
    claims: JSON.parse(Buffer.from(c, "base64url").toString()),
    signature: s,
  };
}

export function forgeries(real: string): Record<string, string> {
  const { header, claims, signature } = parts(real);
  const other = generateKeyPairSync("ed25519");
  const signed = (h: object, c: object) => {
    const input = `${b64(JSON.stringify(h))}.${b64(JSON.stringify(c))}`;
    return `${input}.${b64(sign(null, Buffer.from(input), other.privateKey))}`;
  };
  return {
    "garbage": "not-a-jwt",
    // RFC 7519 unsecured JWT: no signature at all.
    "alg none": `${b64(JSON.stringify({ ...header, alg: "none" }))}.${b64(JSON.stringify(claims))}.`,
    // The real signature over altered claims: another user, a later expiry.
    "tampered claims": `${b64(JSON.stringify(header))}.${b64(
      JSON.stringify({ ...claims, sub: "00000000-0000-0000-0000-000000000000", exp: claims.exp + 86_400 }),
    )}.${signature}`,
    // Well-formed and validly signed, by a key auth never published (same kid).
    "foreign key": signed(header, claims),
    // Signed by the foreign key and already expired.
    "expired, foreign key": signed(header, { ...claims, iat: claims.iat - 7200, exp: claims.iat - 3600 }),
  };
}

/** The claims of a token, unverified (for reading `sub`). */
export function claimsOf(token: string): any {
  return parts(token).claims;
}
