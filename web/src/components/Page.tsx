// A page's heading and document title. After a client-side navigation the
// heading takes focus, so screen-reader users hear where they landed (a full
// page load leaves focus where the browser puts it).

import { useEffect, useRef, type ReactNode } from "react";

let firstPage = true;

export function Page({ title, children }: { title: string; children: ReactNode }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · Platform`;
    if (firstPage) firstPage = false;
    else heading.current?.focus();
  }, [title]);
  return (
    <>
      <h1 tabIndex={-1} ref={heading}>
        {title}
      </h1>
      {children}
    </>
  );
}
