// Sign-up: the email and a password checked against auth's rules as it is
// typed, and auth's refusals (409, 422, 429) in plain words.

import { useMutation } from "@tanstack/react-query";
import { useMemo, useRef, useState, type FormEvent } from "react";
import { Link, useLocation } from "react-router";
import { describeError, sentence } from "../api/errors";
import { newIdempotencyKey } from "../api/idempotency";
import { RestError } from "../api/rest";
import { emailProblem } from "../auth/email";
import { checkStrength } from "../auth/password";
import { Field } from "../components/Field";
import { Page } from "../components/Page";
import { PasswordFeedback } from "../components/PasswordFeedback";
import { ErrorMessage } from "../components/Status";
import { useSession, type FromState } from "../session-context";

interface Errors {
  email?: string;
  password?: string;
}

export function SignupPage() {
  const session = useSession();
  const location = useLocation();
  const [email, setEmail] = useState((location.state as FromState | null)?.email ?? "");
  const [password, setPassword] = useState("");
  const [errors, setErrors] = useState<Errors>({});
  const emailRef = useRef<HTMLInputElement>(null);
  const passwordRef = useRef<HTMLInputElement>(null);
  const strength = useMemo(() => checkStrength(password, email), [password, email]);
  // The key travels with the variables, so the retries of one submission share it.
  const signup = useMutation({
    mutationFn: (v: { email: string; password: string; key: string }) => session.signup(v.email, v.password, v.key),
  });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const found: Errors = {
      email: emailProblem(email) && sentence(emailProblem(email)!),
      password: password ? strength.error && sentence(strength.error) : "Enter a password.",
    };
    setErrors(found);
    if (found.email) return emailRef.current?.focus();
    if (found.password) return passwordRef.current?.focus();
    signup.mutate({ email: email.trim(), password, key: newIdempotencyKey() });
  };

  const failure = signup.error;
  const taken = failure instanceof RestError && failure.status === 409 && failure.code === "email_taken";
  return (
    <Page title="Sign up">
      <form onSubmit={submit} noValidate className="form">
        <p>
          Already have an account? <Link to="/login">Log in</Link>.
        </p>
        <Field
          ref={emailRef}
          label="Email"
          type="email"
          name="email"
          autoComplete="email"
          value={email}
          error={errors.email}
          onChange={(e) => setEmail(e.target.value)}
        />
        <Field
          ref={passwordRef}
          label="Password"
          type="password"
          name="password"
          autoComplete="new-password"
          value={password}
          error={errors.password}
          onChange={(e) => setPassword(e.target.value)}
          extra={(id) => <PasswordFeedback id={id} strength={strength} touched={password !== ""} />}
        />
        <ErrorMessage>
          {failure &&
            (taken ? (
              <>
                {describeError(failure)}{" "}
                <Link to="/login" state={{ email: email.trim() } satisfies FromState}>
                  Log in with this email instead
                </Link>
                .
              </>
            ) : (
              describeError(failure)
            ))}
        </ErrorMessage>
        <button type="submit" disabled={signup.isPending}>
          {signup.isPending ? "Creating your account…" : "Create account"}
        </button>
      </form>
    </Page>
  );
}
