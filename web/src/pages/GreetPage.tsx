// Greet: calls greeter.v1.GreeterService/Greet (connect-query useMutation),
// each submission with its own idempotency-key, and shows the greeting with
// the external URL's status or the reason its call failed.

import { timestampDate } from "@bufbuild/protobuf/wkt";
import { createConnectQueryKey, useMutation, useTransport } from "@connectrpc/connect-query";
import { useQueryClient } from "@tanstack/react-query";
import { useMemo, useRef, useState, type FormEvent } from "react";
import { Link } from "react-router";
import { describeError } from "../api/errors";
import { newIdempotencyKey } from "../api/idempotency";
import { withHeaders } from "../api/transport";
import { Field } from "../components/Field";
import { Page } from "../components/Page";
import { ErrorMessage, Loading } from "../components/Status";
import { useNameField } from "../greeting/useNameField";
import { GreeterService } from "../gen/greeter/v1/greeter_pb";

export function GreetPage() {
  const nameField = useNameField();
  const [url, setUrl] = useState("");
  const queryClient = useQueryClient();
  const key = useRef("");
  const base = useTransport();
  const transport = useMemo(() => withHeaders(base, () => ({ "idempotency-key": key.current })), [base]);
  const greet = useMutation(GreeterService.method.greet, {
    transport,
    // The history now has one more.
    onSuccess: () =>
      queryClient.invalidateQueries({
        queryKey: createConnectQueryKey({ schema: GreeterService.method.listGreetings, cardinality: "infinite" }),
      }),
  });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const trimmed = nameField.checked();
    if (trimmed === undefined) return;
    key.current = newIdempotencyKey();
    greet.mutate({ name: trimmed, url: url.trim() });
  };

  const result = greet.data;
  return (
    <Page title="Greet">
      <form onSubmit={submit} noValidate className="form">
        {nameField.field}
        <Field
          label="URL to check (optional)"
          hint="Greeter fetches it and reports its HTTP status; leave it empty for the default."
          type="url"
          name="url"
          inputMode="url"
          value={url}
          onChange={(e) => setUrl(e.target.value)}
        />
        <ErrorMessage>{greet.error && describeError(greet.error)}</ErrorMessage>
        <button type="submit" disabled={greet.isPending}>
          {greet.isPending ? "Greeting…" : "Greet"}
        </button>
      </form>
      {greet.isPending && <Loading label="Greeting…" />}
      {result && (
        <section className="result" aria-labelledby="greet-result">
          <h2 id="greet-result">Result</h2>
          <p className="greeting" data-testid="greeting">
            {result.greeting}
          </p>
          <dl>
            {result.externalError ? (
              <>
                <dt>External call failed</dt>
                <dd data-testid="external-error">{result.externalError}</dd>
              </>
            ) : (
              <>
                <dt>External status</dt>
                <dd data-testid="external-status">{result.externalStatus}</dd>
              </>
            )}
            {result.createdAt && (
              <>
                <dt>Stored</dt>
                <dd>{timestampDate(result.createdAt).toLocaleString()}</dd>
              </>
            )}
          </dl>
          <p>
            <Link to="/history">See all your greetings</Link>
          </p>
        </section>
      )}
    </Page>
  );
}
