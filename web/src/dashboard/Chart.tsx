// A uPlot time-series chart (canvas), sized to its container. uPlot sets
// styles through the DOM, not style attributes in markup, so the CSP's
// style-src 'self' holds. The canvas says nothing to assistive technology:
// the page's table carries the same figures, and the figure is labelled.

import { useEffect, useRef } from "react";
import uPlot, { type AlignedData } from "uplot";
import "uplot/dist/uPlot.min.css";

// Kept in step with .swatch-0 … .swatch-4 in styles.css (the legend's keys).
const COLOURS = ["#0b4f8a", "#b3261e", "#1e7b34", "#7a4fa0", "#a05a00"];

export function Chart({ title, unit, names, data }: { title: string; unit: string; names: string[]; data: (number | null)[][] }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  // One plot per set of series; new data only updates it.
  useEffect(() => {
    if (!box.current) return;
    const options: uPlot.Options = {
      width: box.current.clientWidth || 600,
      height: 220,
      series: [{}, ...names.map((label, i) => ({ label, stroke: COLOURS[i % COLOURS.length], width: 2, spanGaps: false }))],
      axes: [{}, { label: unit, size: 60 }],
      // From the data itself: for one snapshot uPlot pads the axis by 86400 / 1e-3 s (years);
      // under a minute of history shows the minute before the newest.
      scales: {
        x: {
          time: true,
          range: (u) => {
            const xs = u.data[0];
            const [first, last] = [xs[0] ?? 0, xs[xs.length - 1] ?? 0];
            return last - first < 60 ? [last - 60, last + 1] : [first, last];
          },
        },
      },
      // Our own legend below: uPlot's is a table inside the image.
      legend: { show: false },
    };
    plot.current = new uPlot(options, data as AlignedData, box.current);
    const resize = () => plot.current?.setSize({ width: box.current?.clientWidth || 600, height: 220 });
    window.addEventListener("resize", resize);
    return () => {
      window.removeEventListener("resize", resize);
      plot.current?.destroy();
      plot.current = null;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [names.join("\n"), unit]);

  useEffect(() => {
    plot.current?.setData(data as AlignedData);
  }, [data]);

  return (
    <figure className="chart" data-testid="chart">
      <figcaption>{title}</figcaption>
      <div ref={box} role="img" aria-label={`${title}: the table below has the latest figures`} />
      <ul className="legend">
        {names.map((name, i) => (
          <li key={name}>
            <span className={`swatch swatch-${i % COLOURS.length}`} aria-hidden="true" />
            {name}
          </li>
        ))}
      </ul>
    </figure>
  );
}
