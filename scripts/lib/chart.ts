/**
 * Line charts for the demo (equity and maintenance margin per account along a price path) and the stress
 * harness (liquidatable vs liquidated accounts, fund values per block), rendered with ECharts' server-side SVG
 * renderer and turned into PNG by resvg. `writeChart` writes both files; the PNG is what reports link to.
 */
import { writeFileSync } from "node:fs";
import * as echarts from "echarts";
import { Resvg } from "@resvg/resvg-js";

export interface Series {
  label: string;
  color: string;
  dashed?: boolean;
  values: number[];
}

export interface ChartSpec {
  title: string;
  subtitle: string;
  xLabels: string[];
  xTitle: string;
  yTitle: string;
  series: Series[];
  /** Vertical markers, e.g. a liquidation: x index and text. */
  markers: { x: number; text: string; color: string }[];
}

const WIDTH = 1000;
const HEIGHT = 600;
/** Series longer than this are drawn without point symbols. */
const MAX_SYMBOLS = 60;

/** The chart as an SVG document (ECharts, server-side rendering, no DOM). */
export function lineChart(spec: ChartSpec): string {
  const chart = echarts.init(null, null, { renderer: "svg", ssr: true, width: WIDTH, height: HEIGHT });
  try {
    chart.setOption({
      animation: false,
      backgroundColor: "#ffffff",
      textStyle: { fontFamily: "DejaVu Sans, Helvetica, Arial, sans-serif" },
      title: { text: spec.title, subtext: spec.subtitle, left: 80, top: 10 },
      legend: {
        top: 58,
        left: 80,
        right: 40,
        itemGap: 40,
        textStyle: { fontSize: 11 },
        data: spec.series.map((s) => s.label),
      },
      grid: { left: 90, right: 40, top: 130, bottom: 80 },
      xAxis: {
        type: "category",
        data: spec.xLabels,
        name: spec.xTitle,
        nameLocation: "middle",
        nameGap: 35,
        boundaryGap: false,
        // The callers leave labels empty where they want none: show every label they gave.
        axisLabel: { interval: 0 },
      },
      yAxis: { type: "value", name: spec.yTitle, nameLocation: "middle", nameGap: 65 },
      series: spec.series.map((s, i) => ({
        name: s.label,
        type: "line",
        data: s.values,
        showSymbol: s.values.length <= MAX_SYMBOLS,
        lineStyle: { color: s.color, width: 2, type: s.dashed ? "dashed" : "solid" },
        itemStyle: { color: s.color },
        // Markers ride on the first series: vertical lines at their x index.
        ...(i === 0 && spec.markers.length > 0
          ? {
              markLine: {
                symbol: "none",
                data: spec.markers.map((m) => ({
                  xAxis: m.x,
                  label: { formatter: m.text, color: m.color },
                  lineStyle: { color: m.color, type: "dotted" },
                })),
              },
            }
          : {}),
      })),
    });
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}

/** PNG bytes of an SVG document, rendered at the chart's width with the system's fonts. */
export function svgToPng(svg: string): Buffer {
  const resvg = new Resvg(svg, {
    fitTo: { mode: "width", value: WIDTH },
    background: "#ffffff",
    font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans" },
  });
  return resvg.render().asPng();
}

/** Writes `<basePath>.svg` and `<basePath>.png`; returns the PNG's path. */
export function writeChart(basePath: string, spec: ChartSpec): string {
  const svg = lineChart(spec);
  writeFileSync(`${basePath}.svg`, svg);
  writeFileSync(`${basePath}.png`, svgToPng(svg));
  return `${basePath}.png`;
}
