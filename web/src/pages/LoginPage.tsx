// Log-in. Wrong credentials and throttling (429, with the wait) are told
// plainly; so is why a previous session ended.

import { useMutation } from "@tanstack/react-query";
import { useRef, useState, type FormEvent } from "react";
import { Link, useLocation } from "react-router";
import { MESSAGES, describeError } from "../api/errors";
import { RestError } from "../api/rest";
import { Field } from "../components/Field";
import { Page } from "../components/Page";
import { ErrorMessage, Notice } from "../components/Status";
import { useSession, useSessionState, type FromState } from "../session-context";

interface Errors {
  email?: string;
  password?: string;
}

export function LoginPage() {
  const session = useSession();
  const { notice } = useSessionState();
  const location = useLocation();
  const [email, setEmail] = useState((location.state as FromState | null)?.email ?? "");
  const [password, setPassword] = useState("");
  const [errors, setErrors] = useState<Errors>({});
  const emailRef = useRef<HTMLInputElement>(null);
  const passwordRef = useRef<HTMLInputElement>(null);
  const login = useMutation({ mutationFn: (v: { email: string; password: string }) => session.login(v.email, v.password) });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const found: Errors = {
      email: email.trim() ? undefined : "Enter your email.",
      password: password ? undefined : "Enter your password.",
    };
    setErrors(found);
    if (found.email) return emailRef.current?.focus();
    if (found.password) return passwordRef.current?.focus();
    login.mutate({ email: email.trim(), password });
  };

  return (
    <Page title="Log in">
      <Notice>{!login.error && notice}</Notice>
      <form onSubmit={submit} noValidate className="form">
        <p>
          New here? <Link to="/signup">Create an account</Link>.
        </p>
        <Field
          ref={emailRef}
          label="Email"
          type="email"
          name="email"
          autoComplete="username"
          value={email}
          error={errors.email}
          onChange={(e) => setEmail(e.target.value)}
        />
        <Field
          ref={passwordRef}
          label="Password"
          type="password"
          name="password"
          autoComplete="current-password"
          value={password}
          error={errors.password}
          onChange={(e) => setPassword(e.target.value)}
        />
        <ErrorMessage>
          {login.error &&
            (login.error instanceof RestError && login.error.status === 401
              ? MESSAGES.invalidCredentials
              : describeError(login.error))}
        </ErrorMessage>
        <button type="submit" disabled={login.isPending}>
          {login.isPending ? "Logging in…" : "Log in"}
        </button>
      </form>
    </Page>
  );
}
