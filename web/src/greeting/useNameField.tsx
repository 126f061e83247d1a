// The "Name" field of the forms that greet: its state, its error and the
// check before sending (nameProblem), once for every such form.

import { useRef, useState } from "react";
import { Field } from "../components/Field";
import { nameProblem } from "./name";

export function useNameField(initial = "") {
  const [value, setValue] = useState(initial);
  const [error, setError] = useState<string>();
  const ref = useRef<HTMLInputElement>(null);
  return {
    /** The trimmed name to send; undefined after showing why not and focusing the field. */
    checked(): string | undefined {
      const problem = nameProblem(value);
      setError(problem);
      if (problem) {
        ref.current?.focus();
        return undefined;
      }
      return value.trim();
    },
    field: (
      <Field
        ref={ref}
        label="Name"
        name="name"
        autoComplete="off"
        value={value}
        error={error}
        onChange={(e) => setValue(e.target.value)}
      />
    ),
  };
}
