// The preferred language, kept by lang (REST, through the typed client):
// the list of languages, the current choice, and a preview of lang's
// greeting in it.

import { useQuery } from "@tanstack/react-query";
import { useEffect, useState, type FormEvent } from "react";
import { describeError } from "../api/errors";
import { newIdempotencyKey } from "../api/idempotency";
import { unwrap } from "../api/rest";
import { LanguageSelect } from "../components/LanguageSelect";
import { Page } from "../components/Page";
import { ErrorMessage, Loading, Notice } from "../components/Status";
import { useLanguages, usePreference, useSavePreference } from "../lang/queries";
import { useServices, useSessionState } from "../session-context";

export function LanguagePage() {
  const { lang } = useServices();
  const { email } = useSessionState();
  const languages = useLanguages();
  const preference = usePreference();
  const name = email?.split("@")[0] || "you";
  const preview = useQuery({
    queryKey: ["lang", "greeting", name, preference.data ?? null],
    queryFn: () => unwrap(lang.GET("/lang/v1/greeting", { params: { query: { name } } })),
    enabled: preference.isSuccess,
  });

  const [choice, setChoice] = useState("");
  useEffect(() => {
    if (preference.isSuccess) setChoice(preference.data ?? "");
  }, [preference.isSuccess, preference.data]);

  const save = useSavePreference();

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (choice) save.mutate({ language: choice, key: newIdempotencyKey() });
  };

  return (
    <Page title="Language">
      {languages.isPending || preference.isPending ? (
        <Loading label="Loading languages…" />
      ) : languages.isError || preference.isError ? (
        <ErrorMessage>Could not load languages: {describeError(languages.error ?? preference.error)}</ErrorMessage>
      ) : (
        <form onSubmit={submit} className="form">
          <LanguageSelect
            label="Preferred language"
            languages={languages.data.languages}
            value={choice}
            onChange={setChoice}
            none={preference.data ? undefined : "Not chosen (English)"}
          />
          <ErrorMessage>{save.error && describeError(save.error)}</ErrorMessage>
          <Notice>{save.isSuccess && !save.isPending && "Saved."}</Notice>
          <button type="submit" disabled={!choice || save.isPending}>
            {save.isPending ? "Saving…" : "Save"}
          </button>
        </form>
      )}
      <section aria-labelledby="preview-heading" className="result">
        <h2 id="preview-heading">Preview</h2>
        {preview.isPending ? (
          <Loading label="Loading the preview…" />
        ) : preview.isError ? (
          <ErrorMessage>Could not load the preview: {describeError(preview.error)}</ErrorMessage>
        ) : (
          <p className="greeting" lang={preview.data.language}>
            {preview.data.greeting}
          </p>
        )}
      </section>
    </Page>
  );
}
