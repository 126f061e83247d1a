// The user's greetings: pages of ListGreetings (infinite scroll with an
// IntersectionObserver sentinel, and a "Load more" button for keyboards),
// with greetings stored meanwhile prepended live from WatchGreetings.

import { timestampDate } from "@bufbuild/protobuf/wkt";
import { useInfiniteQuery, useTransport } from "@connectrpc/connect-query";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Link } from "react-router";
import { describeError } from "../api/errors";
import { Page } from "../components/Page";
import { Empty, ErrorMessage, Loading } from "../components/Status";
import { GreeterService, type Greeting } from "../gen/greeter/v1/greeter_pb";
import { WatchStatus } from "../components/WatchStatus";
import { useWatchGreetings } from "../history/useWatchGreetings";
import { useSession } from "../session-context";

const PAGE_SIZE = 20;

export function HistoryPage() {
  const transport = useTransport();
  const session = useSession();
  const list = useInfiniteQuery(
    GreeterService.method.listGreetings,
    { pageSize: PAGE_SIZE, pageToken: "" },
    { pageParamKey: "pageToken", getNextPageParam: (last) => last.nextPageToken || undefined },
  );
  const [live, setLive] = useState<Greeting[]>([]);
  const { refetch, isSuccess } = list;
  const watch = useWatchGreetings(transport, session, {
    onGreeting: (g) => setLive((seen) => (seen.some((s) => s.id === g.id) ? seen : [g, ...seen])),
    // Greetings stored before the watch was (again) in place are not streamed: read them.
    onConnected: () => {
      if (isSuccess) void refetch();
    },
  });

  const greetings = useMemo(() => {
    const all = [...live, ...(list.data?.pages.flatMap((p) => p.greetings) ?? [])];
    const ids = new Set<bigint>();
    return all.filter((g) => !ids.has(g.id) && ids.add(g.id));
  }, [live, list.data]);

  const { hasNextPage, isFetchingNextPage, fetchNextPage } = list;
  const loadMore = useCallback(() => {
    if (hasNextPage && !isFetchingNextPage) void fetchNextPage();
  }, [hasNextPage, isFetchingNextPage, fetchNextPage]);

  return (
    <Page title="History">
      <WatchStatus watch={watch} live="Live: new greetings appear at the top." />
      {list.isPending ? (
        <Loading label="Loading your greetings…" />
      ) : list.isError && !list.data ? (
        <ErrorMessage>Could not load your greetings: {describeError(list.error)}</ErrorMessage>
      ) : greetings.length === 0 ? (
        <Empty>
          No greetings yet. <Link to="/greet">Greet someone</Link> and it will appear here.
        </Empty>
      ) : (
        <>
          <ol className="greetings" aria-label="Your greetings, newest first">
            {greetings.map((g) => (
              <GreetingItem key={g.id.toString()} greeting={g} />
            ))}
          </ol>
          {list.isFetchNextPageError && (
            <ErrorMessage>Could not load more: {describeError(list.error)}</ErrorMessage>
          )}
          {hasNextPage ? (
            <>
              <Sentinel onVisible={loadMore} />
              <button type="button" className="secondary" onClick={loadMore} disabled={isFetchingNextPage}>
                {isFetchingNextPage ? "Loading more…" : "Load more"}
              </button>
            </>
          ) : (
            <p className="end">That is all of them.</p>
          )}
          {isFetchingNextPage && <Loading label="Loading more greetings…" />}
        </>
      )}
    </Page>
  );
}

function GreetingItem({ greeting: g }: { greeting: Greeting }) {
  const when = g.createdAt && timestampDate(g.createdAt);
  return (
    <li className="greeting-item" data-greeting-id={g.id.toString()}>
      <p className="greeting">{g.greeting}</p>
      <p className="meta">
        {when && <time dateTime={when.toISOString()}>{when.toLocaleString()}</time>}
        {g.externalError
          ? ` · external call failed: ${g.externalError}`
          : ` · external status ${g.externalStatus}`}
        {g.url && ` · ${g.url}`}
      </p>
    </li>
  );
}

/** Calls `onVisible` when scrolled into view; browsers without IntersectionObserver keep the button. */
function Sentinel({ onVisible }: { onVisible: () => void }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!ref.current || typeof IntersectionObserver === "undefined") return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) onVisible();
    });
    observer.observe(ref.current);
    return () => observer.disconnect();
  }, [onVisible]);
  return <div ref={ref} className="sentinel" aria-hidden="true" />;
}
