// A live view's connection, announced politely.

import type { WatchState } from "../api/watch";

export function WatchStatus({ watch, live }: { watch: WatchState; live: string }) {
  const text =
    watch.state === "live"
      ? live
      : watch.state === "connecting"
        ? "Connecting to live updates…"
        : watch.state === "reconnecting"
          ? `Live updates interrupted: reconnecting in ${watch.inSeconds} s…`
          : `Live updates stopped: ${watch.message}`;
  return (
    <p className="watch-status" role="status" data-state={watch.state}>
      {text}
    </p>
  );
}
