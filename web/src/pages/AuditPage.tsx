// Admins read the audit log: every admin action auth or lang recorded
// (role grants, translations, deletions), newest first, one service at a
// time, with older pages fetched on demand (`before` = the last id seen).

import { useInfiniteQuery } from "@tanstack/react-query";
import { useId, useState } from "react";
import { describeError } from "../api/errors";
import { unwrap } from "../api/rest";
import { Page } from "../components/Page";
import { Empty, ErrorMessage, Loading } from "../components/Status";
import { useServices } from "../session-context";

const PAGE = 50;
type Source = "auth" | "lang";

export function AuditPage() {
  const { auth, lang } = useServices();
  const [source, setSource] = useState<Source>("auth");
  const id = useId();
  const log = useInfiniteQuery({
    queryKey: ["audit", source],
    initialPageParam: undefined as number | undefined,
    queryFn: ({ pageParam }) => {
      const query = { limit: PAGE, ...(pageParam === undefined ? {} : { before: pageParam }) };
      return source === "auth"
        ? unwrap(auth.GET("/auth/admin/audit", { params: { query } }))
        : unwrap(lang.GET("/lang/v1/audit", { params: { query } }));
    },
    getNextPageParam: (last) => (last.entries.length < PAGE ? undefined : last.entries[last.entries.length - 1].id),
  });
  const entries = log.data?.pages.flatMap((p) => p.entries) ?? [];

  return (
    <Page title="Audit log">
      <div className="field">
        <label htmlFor={`${id}-source`}>Service</label>
        <select id={`${id}-source`} value={source} onChange={(e) => setSource(e.target.value as Source)}>
          <option value="auth">auth: accounts and roles</option>
          <option value="lang">lang: translations</option>
        </select>
      </div>
      {log.isPending ? (
        <Loading label="Loading the audit log…" />
      ) : log.isError ? (
        <ErrorMessage>Could not load the audit log: {describeError(log.error)}</ErrorMessage>
      ) : entries.length === 0 ? (
        <Empty>No admin actions recorded by {source} yet.</Empty>
      ) : (
        <table className="metrics audit">
          <caption>Admin actions recorded by {source}, newest first</caption>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Action</th>
              <th scope="col">Target</th>
              <th scope="col">By</th>
              <th scope="col">Detail</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((e) => (
              <tr key={e.id} data-audit-id={e.id}>
                <td>{new Date(e.at).toLocaleString()}</td>
                <th scope="row">{e.action}</th>
                <td>{e.target}</td>
                <td>{e.actor}</td>
                <td>
                  <code>{JSON.stringify(e.detail)}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {log.hasNextPage && (
        <button type="button" className="secondary" disabled={log.isFetchingNextPage} onClick={() => void log.fetchNextPage()}>
          {log.isFetchingNextPage ? "Loading older entries…" : "Load older entries"}
        </button>
      )}
    </Page>
  );
}
