/**
 * A dependency-free SVG line chart: equity (solid) and maintenance margin (dashed) per account along a path in the
 * demo; liquidatable vs liquidated accounts and fund values per block in the stress harness. Long series (more
 * than MAX_DOTS points) are drawn without point markers, and empty x labels get no tick.
 */

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

const MAX_DOTS = 60;
const W = 1000;
const H = 600;
const M = { left: 90, right: 250, top: 70, bottom: 80 };

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** Round step for ~6 ticks over [0, max]. */
function niceStep(range: number): number {
  const raw = range / 6;
  const mag = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
}

export function lineChart(spec: ChartSpec): string {
  const all = spec.series.flatMap((s) => s.values);
  const step = niceStep(Math.max(...all, 1) - Math.min(0, ...all));
  const yMin = Math.floor(Math.min(0, ...all) / step) * step;
  const yMax = Math.max(Math.ceil(Math.max(...all) / step) * step, yMin + step);
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const n = spec.xLabels.length;
  const x = (i: number) => M.left + (n === 1 ? 0 : (i / (n - 1)) * plotW);
  const y = (v: number) => M.top + plotH - ((v - yMin) / (yMax - yMin)) * plotH;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${M.left}" y="30" font-size="20" font-weight="bold" fill="#222">${esc(spec.title)}</text>`,
    `<text x="${M.left}" y="52" font-size="13" fill="#555">${esc(spec.subtitle)}</text>`,
  );
  for (let v = yMin; v <= yMax + step / 2; v += step) {
    out.push(
      `<line x1="${M.left}" x2="${M.left + plotW}" y1="${y(v)}" y2="${y(v)}" stroke="${v === 0 ? "#888" : "#e5e5e5"}"/>`,
      `<text x="${M.left - 8}" y="${y(v) + 4}" font-size="12" text-anchor="end" fill="#333">${v.toLocaleString("en-US")}</text>`,
    );
  }
  spec.xLabels.forEach((label, i) => {
    if (label === "") return;
    out.push(
      `<line x1="${x(i)}" x2="${x(i)}" y1="${M.top + plotH}" y2="${M.top + plotH + 5}" stroke="#333"/>`,
      ...label
        .split("\n")
        .map(
          (part, k) =>
            `<text x="${x(i)}" y="${M.top + plotH + 20 + k * 14}" font-size="11" text-anchor="middle" fill="#333">${esc(part)}</text>`,
        ),
    );
  });
  out.push(
    `<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${M.top + plotH}" stroke="#333"/>`,
    `<line x1="${M.left}" x2="${M.left + plotW}" y1="${M.top + plotH}" y2="${M.top + plotH}" stroke="#333"/>`,
    `<text x="${M.left + plotW / 2}" y="${H - 15}" font-size="13" text-anchor="middle" fill="#222">${esc(spec.xTitle)}</text>`,
    `<text transform="translate(22 ${M.top + plotH / 2}) rotate(-90)" font-size="13" text-anchor="middle" fill="#222">${esc(spec.yTitle)}</text>`,
  );
  for (const m of spec.markers) {
    out.push(
      `<line x1="${x(m.x)}" x2="${x(m.x)}" y1="${M.top}" y2="${M.top + plotH}" stroke="${m.color}" stroke-dasharray="2 3"/>`,
      `<text x="${x(m.x) + 4}" y="${M.top + 14}" font-size="12" fill="${m.color}">${esc(m.text)}</text>`,
    );
  }
  for (const s of spec.series) {
    const points = s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    const dash = s.dashed ? ` stroke-dasharray="7 4"` : "";
    out.push(`<polyline points="${points}" fill="none" stroke="${s.color}" stroke-width="2.5"${dash}/>`);
    if (!s.dashed && s.values.length <= MAX_DOTS) {
      for (const [i, v] of s.values.entries()) {
        out.push(`<circle cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3" fill="${s.color}"/>`);
      }
    }
  }
  const lx = M.left + plotW + 20;
  out.push(`<text x="${lx}" y="${M.top + 4}" font-size="13" font-weight="bold" fill="#222">Legend</text>`);
  spec.series.forEach((s, i) => {
    const ly = M.top + 26 + i * 24;
    const dash = s.dashed ? ` stroke-dasharray="7 4"` : "";
    out.push(
      `<line x1="${lx}" x2="${lx + 30}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2.5"${dash}/>`,
      `<text x="${lx + 38}" y="${ly + 4}" font-size="12" fill="#222">${esc(s.label)}</text>`,
    );
  });
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}
