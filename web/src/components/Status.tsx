// Loading, empty and error states, announced to screen readers.

import type { ReactNode } from "react";

export function Loading({ label }: { label: string }) {
  return (
    <p className="status" role="status">
      <span className="spinner" aria-hidden="true" />
      {label}
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}

/** An error the user should read now: role=alert announces it as it appears. */
export function ErrorMessage({ children, id }: { children: ReactNode; id?: string }) {
  if (!children) return null;
  return (
    <div className="error-message" role="alert" id={id}>
      {children}
    </div>
  );
}

export function Notice({ children }: { children: ReactNode }) {
  if (!children) return null;
  return (
    <div className="notice" role="status">
      {children}
    </div>
  );
}
