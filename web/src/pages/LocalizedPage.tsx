// A localized greeting from gateway (gateway.v1.GatewayService/
// LocalizedGreeting, connect-query): a name and a language from lang's
// list, preselected from the saved preference; the answer says which
// language was used and whether it came from lang, gateway's cache or the
// English fallback. The chosen language can be saved as the preference,
// which the next visit starts from.

import { useMutation } from "@connectrpc/connect-query";
import { useEffect, useState, type FormEvent } from "react";
import { describeError } from "../api/errors";
import { Page } from "../components/Page";
import { ErrorMessage, Loading, Notice } from "../components/Status";
import { useNameField } from "../greeting/useNameField";
import { GatewayService, Source } from "../gen/gateway/v1/gateway_pb";
import { LanguageSelect } from "../components/LanguageSelect";
import { languageName, useLanguages, usePreference, useSavePreference } from "../lang/queries";
import { useSessionState } from "../session-context";

/** Where the answer came from, as a person would say it. */
export function describeSource(source: Source): string {
  switch (source) {
    case Source.UPSTREAM:
      return "lang, just now";
    case Source.CACHE:
      return "gateway's cache of lang's answer";
    case Source.FALLBACK:
      return "the English fallback: lang could not answer";
    default:
      return "not said";
  }
}

export function LocalizedPage() {
  const { email } = useSessionState();
  const languages = useLanguages();
  const preference = usePreference();
  const save = useSavePreference();
  const greeting = useMutation(GatewayService.method.localizedGreeting);
  const nameField = useNameField(email?.split("@")[0] ?? "");
  const [language, setLanguage] = useState<string>();

  // The saved preference is where a visit starts; English without one.
  useEffect(() => {
    if (preference.isSuccess && language === undefined) setLanguage(preference.data ?? "en");
  }, [preference.isSuccess, preference.data, language]);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const trimmed = nameField.checked();
    if (trimmed === undefined) return;
    save.reset();
    greeting.mutate({ name: trimmed, language: language ?? "en" });
  };

  const names = new Map(languages.data?.languages.map((l) => [l.code, languageName(l)]));
  const result = greeting.data;
  const saved = preference.data ?? "en";
  const failed = languages.error ?? preference.error;
  return (
    <Page title="Localized greeting">
      {failed ? (
        <ErrorMessage>Could not load languages: {describeError(failed)}</ErrorMessage>
      ) : !languages.isSuccess || language === undefined ? (
        <Loading label="Loading languages…" />
      ) : (
        <form onSubmit={submit} noValidate className="form">
          {nameField.field}
          <LanguageSelect label="Language" languages={languages.data.languages} value={language} onChange={setLanguage} />
          <ErrorMessage>{greeting.error && describeError(greeting.error)}</ErrorMessage>
          <div className="actions">
            <button type="submit" disabled={greeting.isPending}>
              {greeting.isPending ? "Greeting…" : "Greet"}
            </button>
            <button
              type="button"
              className="secondary"
              disabled={save.isPending || language === saved}
              onClick={() => language && save.mutate({ language })}
            >
              {save.isPending ? "Saving…" : "Save as my language"}
            </button>
          </div>
          <ErrorMessage>{save.error && `Could not save: ${describeError(save.error)}`}</ErrorMessage>
          <Notice>{save.isSuccess && !save.isPending && `Saved: ${names.get(saved) ?? saved} is your language.`}</Notice>
        </form>
      )}
      {greeting.isPending && <Loading label="Greeting…" />}
      {result && (
        <section className="result" aria-labelledby="localized-result">
          <h2 id="localized-result">Result</h2>
          <p className="greeting" data-testid="localized-greeting" lang={result.language}>
            {result.greeting}
          </p>
          <dl>
            <dt>Language</dt>
            <dd data-testid="localized-language">{names.get(result.language) ?? result.language}</dd>
            <dt>From</dt>
            <dd data-testid="localized-source">{describeSource(result.source)}</dd>
          </dl>
          {result.fallback && <p>lang has no greeting in that language, so English was used.</p>}
        </section>
      )}
    </Page>
  );
}
