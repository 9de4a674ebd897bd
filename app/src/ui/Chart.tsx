/**
 * An account's equity against its initial and maintenance margin over its life (the same charting library,
 * ECharts, as the stress plots). History comes from the chain's own `marginSummary` at past blocks.
 */
import { LineChart } from "echarts/charts";
import { GridComponent, LegendComponent, TooltipComponent } from "echarts/components";
import * as echarts from "echarts/core";
import { SVGRenderer } from "echarts/renderers";
import { useEffect, useRef, useState } from "preact/hooks";

import { equityHistory } from "../data.js";
import type { AppContext } from "./App.js";

echarts.use([LineChart, GridComponent, LegendComponent, TooltipComponent, SVGRenderer]);

const toUsd = (d18: bigint) => Number(d18 / 10n ** 12n) / 1e6;

export function EquityChart({ ctx, accountId }: { ctx: AppContext; accountId: bigint }) {
  const node = useRef<HTMLDivElement>(null);
  const chart = useRef<echarts.ECharts | undefined>(undefined);
  const [points, setPoints] = useState<Awaited<ReturnType<typeof equityHistory>>>([]);
  const block = ctx.view.block;

  useEffect(() => {
    let live = true;
    const from = ctx.config.book.startBlock ?? 0;
    equityHistory(ctx.reader, accountId, from, block).then(
      (p) => live && setPoints(p),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [ctx.reader, accountId, block]);

  useEffect(() => {
    if (!node.current) return;
    chart.current ??= echarts.init(node.current, undefined, { renderer: "svg" });
    chart.current.setOption({
      animation: false,
      grid: { left: 70, right: 20, top: 30, bottom: 40 },
      legend: { top: 0, textStyle: { color: "#8b98a5" } },
      textStyle: { color: "#8b98a5" },
      tooltip: { trigger: "axis" },
      xAxis: {
        type: "value",
        name: "block",
        nameLocation: "middle",
        nameGap: 25,
        min: "dataMin",
        max: "dataMax",
        splitLine: { lineStyle: { color: "#263140" } },
      },
      yAxis: { type: "value", name: "USD", splitLine: { lineStyle: { color: "#263140" } } },
      series: [
        {
          name: "equity",
          type: "line",
          showSymbol: false,
          data: points.map((p) => [p.block, toUsd(p.equityD18)]),
        },
        {
          name: "initial margin",
          type: "line",
          showSymbol: false,
          data: points.map((p) => [p.block, toUsd(p.imD18)]),
        },
        {
          name: "maintenance margin",
          type: "line",
          showSymbol: false,
          lineStyle: { type: "dashed" },
          data: points.map((p) => [p.block, toUsd(p.mmD18)]),
        },
      ],
    });
  }, [points]);

  useEffect(() => () => chart.current?.dispose(), []);
  return <div class="chart" ref={node} data-testid="equity-chart" />;
}
