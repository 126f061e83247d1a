// lang over REST with curl: greetings from the seeded translations.

import type { Context } from "../context.js";
import { expectEqual } from "../report.js";
import { curl, json } from "../tools/curl.js";

/** From services/lang/migrations: the seeded greeting templates. */
export const LOCALIZED: Record<string, string> = {
  en: "Hello, Zoë!",
  fr: "Bonjour, Zoë !",
  de: "Hallo, Zoë!",
  es: "¡Hola, Zoë!",
  ja: "こんにちは、Zoëさん!",
};

export async function lang(ctx: Context): Promise<void> {
  const { report, urls } = ctx;
  const greeting = (query: string) => curl(`${urls.lang}/lang/v1/greeting?${query}`);

  report.section("lang (REST, curl)");
  await report.check("lang: /lang/v1/languages lists the seeded languages", async () => {
    const reply = await curl(`${urls.lang}/lang/v1/languages`);
    expectEqual(reply.status, 200, "status");
    const codes = json(reply).languages.map((l: { code: string }) => l.code);
    expectEqual(Object.keys(LOCALIZED).filter((c) => !codes.includes(c)), [], "missing languages");
  });

  for (const [language, expected] of Object.entries(LOCALIZED)) {
    await report.check(`lang: greeting in ${language} is ${JSON.stringify(expected)}`, async () => {
      const reply = await greeting(`name=${encodeURIComponent("Zoë")}&language=${language}`);
      expectEqual(reply.status, 200, "status");
      expectEqual(json(reply), { greeting: expected, language, fallback: false }, "body");
    });
  }

  await report.check("lang: a regional tag falls back to its language (fr-CA → fr)", async () => {
    const body = json(await greeting(`name=Zo%C3%AB&language=fr-CA`));
    expectEqual(body, { greeting: LOCALIZED.fr, language: "fr", fallback: true }, "body");
  });

  await report.check("lang: an unknown language falls back to English", async () => {
    const body = json(await greeting("name=Zo%C3%AB&language=xx"));
    expectEqual(body, { greeting: LOCALIZED.en, language: "en", fallback: true }, "body");
  });

  await report.check("lang: an empty name is refused (400 invalid_name)", async () => {
    const reply = await greeting("name=&language=fr");
    expectEqual([reply.status, json(reply).error?.code], [400, "invalid_name"], "status and code");
  });
}
