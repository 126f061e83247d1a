// Admins edit lang's greeting templates (lang's PUT
// /lang/v1/translations/{language}/{key}, admin only): pick a language,
// see its current template, change it with lang's rule checked as you type
// and again before sending. The change reaches localized greetings at once:
// gateway drops its cached answers when lang announces the change.

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import { describeError } from "../api/errors";
import { newIdempotencyKey } from "../api/idempotency";
import { toRestError, unwrap } from "../api/rest";
import { Page } from "../components/Page";
import { ErrorMessage, Loading, Notice } from "../components/Status";
import { LanguageSelect } from "../components/LanguageSelect";
import { useLanguages } from "../lang/queries";
import { MAX_CHARS, PLACEHOLDER, templateProblem } from "../lang/template";
import { useServices } from "../session-context";

const KEY = "greeting";

export function TranslationsPage() {
  const { lang } = useServices();
  const queryClient = useQueryClient();
  const languages = useLanguages();
  const [language, setLanguage] = useState("fr");
  const current = useQuery({
    queryKey: ["lang", "translation", language, KEY],
    queryFn: async () => {
      const { data, error, response } = await lang.GET("/lang/v1/translations/{language}/{key}", {
        params: { path: { language, key: KEY } },
      });
      if (response.status === 404) return null; // none yet: English is used
      if (!data) throw toRestError(response, error);
      return data;
    },
  });
  const [template, setTemplate] = useState("");
  const [touched, setTouched] = useState(false);
  const [problem, setProblem] = useState<string>();
  const input = useRef<HTMLTextAreaElement>(null);
  const id = useId();

  // A newly loaded template replaces what was typed for another language.
  useEffect(() => {
    if (current.isSuccess) {
      setTemplate(current.data?.template ?? "");
      setTouched(false);
      setProblem(undefined);
    }
  }, [current.isSuccess, current.data]);

  const save = useMutation({
    mutationFn: (v: { language: string; template: string; key: string }) =>
      unwrap(
        lang.PUT("/lang/v1/translations/{language}/{key}", {
          params: { path: { language: v.language, key: KEY }, header: { "Idempotency-Key": v.key } },
          body: { template: v.template },
        }),
      ),
    onSuccess: (saved) => queryClient.setQueryData(["lang", "translation", saved.language, KEY], saved),
  });

  const live = touched ? templateProblem(template) : undefined;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const found = templateProblem(template);
    setProblem(found);
    setTouched(true);
    if (found) return input.current?.focus();
    save.mutate({ language, template, key: newIdempotencyKey() });
  };

  const shown = problem ?? live;
  const errorId = shown ? `${id}-error` : undefined;
  return (
    <Page title="Translations">
      {languages.isPending ? (
        <Loading label="Loading languages…" />
      ) : languages.isError ? (
        <ErrorMessage>Could not load languages: {describeError(languages.error)}</ErrorMessage>
      ) : (
        <form onSubmit={submit} noValidate className="form">
          <LanguageSelect
            label="Language"
            languages={languages.data.languages}
            value={language}
            onChange={(code) => {
              save.reset();
              setLanguage(code);
            }}
          />
          {current.isPending ? (
            <Loading label="Loading the template…" />
          ) : current.isError ? (
            <ErrorMessage>Could not load the template: {describeError(current.error)}</ErrorMessage>
          ) : (
            <div className="field">
              <label htmlFor={`${id}-template`}>Greeting template</label>
              <p className="hint" id={`${id}-hint`}>
                {current.data ? "" : "None yet: greetings in this language use English. "}
                Write {PLACEHOLDER} where the name goes; at most {MAX_CHARS} characters.
              </p>
              {shown && (
                <p className="field-error" id={errorId}>
                  {shown}
                </p>
              )}
              <textarea
                id={`${id}-template`}
                ref={input}
                rows={3}
                value={template}
                aria-invalid={shown ? true : undefined}
                aria-describedby={[errorId, `${id}-hint`].filter(Boolean).join(" ")}
                onChange={(e) => {
                  setTemplate(e.target.value);
                  setTouched(true);
                  setProblem(undefined);
                  save.reset();
                }}
              />
            </div>
          )}
          <ErrorMessage>{save.error && `Not saved: ${describeError(save.error)}`}</ErrorMessage>
          <Notice>{save.isSuccess && !save.isPending && "Saved. Localized greetings use it now."}</Notice>
          <button type="submit" disabled={save.isPending || !current.isSuccess}>
            {save.isPending ? "Saving…" : "Save template"}
          </button>
        </form>
      )}
    </Page>
  );
}
