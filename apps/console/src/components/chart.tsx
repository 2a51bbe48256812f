import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface ChartSeries {
  readonly label: string;
  readonly color: string;
  readonly values: readonly (number | null)[];
}

/**
 * A time-series chart drawn by uPlot (canvas; its styles come from its CSS file and the
 * DOM, never inline markup, so the console's CSP holds). It follows its container's width.
 */
export function TimeChart({
  title,
  times,
  series,
  unit,
}: {
  title: string;
  /** Seconds since the epoch, one per point. */
  times: readonly number[];
  series: readonly ChartSeries[];
  unit?: string;
}) {
  const container = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = series.map((s) => s.label).join('|');

  useEffect(() => {
    const element = container.current;
    if (!element) return;
    const options: uPlot.Options = {
      width: Math.max(element.clientWidth, 200),
      height: 180,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      scales: {
        // At least ten minutes wide, so a gateway that just started shows a sensible axis.
        x: { time: true, range: (_u, min, max) => [Math.min(min, max - 600), max] },
        y: { range: (_u, _min, max) => [0, Math.max(max, 1)] },
      },
      axes: [
        { stroke: 'currentColor', grid: { stroke: 'rgba(128,128,128,0.15)' } },
        {
          stroke: 'currentColor',
          grid: { stroke: 'rgba(128,128,128,0.15)' },
          size: 70,
          values: (_u, ticks) => ticks.map((t) => `${formatTick(t)}${unit ?? ''}`),
        },
      ],
      series: [
        {},
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 2,
          fill: `${s.color}22`,
          spanGaps: false,
        })),
      ],
    };
    plot.current = new uPlot(options, [[]], element);
    const resize = new ResizeObserver(() => {
      plot.current?.setSize({ width: Math.max(element.clientWidth, 200), height: 180 });
    });
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
    // The chart is rebuilt only when its series change; data updates go through setData.
  }, [shape, unit]);

  useEffect(() => {
    plot.current?.setData([
      [...times],
      ...series.map((s) => [...s.values] as (number | null)[]),
    ] as uPlot.AlignedData);
  }, [times, series]);

  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      <div ref={container} className="chart-canvas" role="img" aria-label={title} />
    </figure>
  );
}

function formatTick(value: number): string {
  if (Math.abs(value) >= 1000) return `${(value / 1000).toFixed(1)}k`;
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
}
