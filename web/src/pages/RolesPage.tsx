// Admins grant and revoke roles (auth's PUT/DELETE
// /auth/admin/users/{id}/roles/{role}): find an account by email, see its
// roles, change them, each change with its own Idempotency-Key. A change
// reaches the user's access tokens when they are next issued (login or
// refresh); auth refuses to revoke the last admin.

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useRef, useState, type FormEvent } from "react";
import { describeError } from "../api/errors";
import { newIdempotencyKey } from "../api/idempotency";
import { RestError, toRestError, unwrap } from "../api/rest";
import { emailProblem } from "../auth/email";
import { Field } from "../components/Field";
import { Page } from "../components/Page";
import { ErrorMessage, Loading, Notice } from "../components/Status";
import { useServices } from "../session-context";

/** The roles auth knows (services/auth/src/service.rs ROLES). */
const ROLES = ["admin"] as const;

export function RolesPage() {
  const { auth } = useServices();
  const queryClient = useQueryClient();
  const [email, setEmail] = useState("");
  const [wanted, setWanted] = useState<string>();
  const [emailError, setEmailError] = useState<string>();
  const input = useRef<HTMLInputElement>(null);

  const user = useQuery({
    queryKey: ["auth", "admin", "user", wanted],
    enabled: wanted !== undefined,
    queryFn: async () => {
      const { data, error, response } = await auth.GET("/auth/admin/users", { params: { query: { email: wanted! } } });
      if (!data) throw toRestError(response, error);
      return data;
    },
  });

  const change = useMutation({
    mutationFn: (v: { id: string; role: string; grant: boolean }) => {
      const params = { path: { user_id: v.id, role: v.role }, header: { "Idempotency-Key": newIdempotencyKey() } };
      return unwrap(
        v.grant
          ? auth.PUT("/auth/admin/users/{user_id}/roles/{role}", { params })
          : auth.DELETE("/auth/admin/users/{user_id}/roles/{role}", { params }),
      );
    },
    onSuccess: (updated) => queryClient.setQueryData(["auth", "admin", "user", wanted], updated),
  });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const problem = emailProblem(email);
    setEmailError(problem);
    if (problem) return input.current?.focus();
    change.reset();
    setWanted(email.trim());
  };

  const notFound = user.error instanceof RestError && user.error.status === 404;
  return (
    <Page title="Roles">
      <form onSubmit={submit} noValidate className="form">
        <Field
          ref={input}
          label="Account email"
          type="email"
          name="email"
          autoComplete="off"
          value={email}
          error={emailError}
          onChange={(e) => setEmail(e.target.value)}
        />
        <button type="submit">Find</button>
      </form>
      {user.isFetching && <Loading label="Looking the account up…" />}
      {user.isError && (
        <ErrorMessage>{notFound ? `There is no account with the email ${wanted}.` : describeError(user.error)}</ErrorMessage>
      )}
      {user.isSuccess && (
        <section className="result" aria-labelledby="account-heading">
          <h2 id="account-heading">{user.data.email}</h2>
          <p data-testid="account-roles">
            Roles: {user.data.roles.length ? user.data.roles.join(", ") : "none"}
          </p>
          <div className="actions">
            {ROLES.map((role) => {
              const has = user.data.roles.includes(role);
              return (
                <button
                  key={role}
                  type="button"
                  className={has ? "secondary" : undefined}
                  disabled={change.isPending}
                  onClick={() => change.mutate({ id: user.data.id, role, grant: !has })}
                >
                  {has ? `Revoke ${role}` : `Grant ${role}`}
                </button>
              );
            })}
          </div>
          <ErrorMessage>{change.error && `Not changed: ${describeError(change.error)}`}</ErrorMessage>
          <Notice>
            {change.isSuccess &&
              !change.isPending &&
              "Saved. It applies to their access tokens from their next login or refresh."}
          </Notice>
        </section>
      )}
    </Page>
  );
}
