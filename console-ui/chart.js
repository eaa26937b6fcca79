// The dashboard's line chart of online users over time, drawn as inline SVG (no chart library,
// nothing fetched: the page's CSP allows only this origin).

const NS = 'http://www.w3.org/2000/svg';
const W = 760;
const H = 260;
const PAD = { left: 44, right: 16, top: 16, bottom: 34 };

function el(name, attrs = {}, text) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function hhmm(secs, withDay) {
  const d = new Date(secs * 1000);
  const t = `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
  return withDay ? `${d.getMonth() + 1}/${d.getDate()} ${t}` : t;
}

/** A "nice" axis maximum at or above `n` (1, 2, 5 × 10^k), at least 4 so small counts show. */
function niceMax(n) {
  if (n <= 4) return 4;
  const p = 10 ** Math.floor(Math.log10(n));
  return [1, 2, 5, 10].map((m) => m * p).find((m) => m >= n);
}

/**
 * An SVG element charting `samples` ([{time: seconds, count}]) over the window `from`..`to`
 * (seconds), so that a young server's few samples sit where they belong in the window.
 */
export function onlineChart(samples, from, to) {
  const svg = el('svg', {
    viewBox: `0 0 ${W} ${H}`,
    class: 'chart',
    role: 'img',
    'aria-label': '在线用户数变化曲线',
  });
  const pts = [...samples].sort((a, b) => a.time - b.time);
  const x0 = PAD.left;
  const x1 = W - PAD.right;
  const y0 = H - PAD.bottom;
  const y1 = PAD.top;
  const max = niceMax(Math.max(0, ...pts.map((p) => p.count)));
  const tMin = Math.min(from, pts.length ? pts[0].time : from);
  const tMax = Math.max(to, pts.length ? pts[pts.length - 1].time : to);
  const span = Math.max(1, tMax - tMin);
  const sx = (t) => x0 + ((t - tMin) / span) * (x1 - x0);
  const sy = (c) => y0 - (c / max) * (y0 - y1);

  for (let i = 0; i <= 4; i++) {
    const v = (max / 4) * i;
    const y = sy(v);
    svg.append(el('line', { x1: x0, x2: x1, y1: y, y2: y, class: 'grid' }));
    svg.append(el('text', { x: x0 - 6, y: y + 4, class: 'axis', 'text-anchor': 'end' }, Number.isInteger(v) ? v : v.toFixed(1)));
  }
  const multiDay = span >= 86400;
  const ticks = 7;
  for (let i = 0; i < ticks; i++) {
    const t = tMin + (span * i) / (ticks - 1);
    svg.append(el('text', { x: sx(t), y: y0 + 20, class: 'axis', 'text-anchor': 'middle' }, hhmm(t, multiDay)));
  }
  svg.append(el('line', { x1: x0, x2: x1, y1: y0, y2: y0, class: 'baseline' }));

  if (!pts.length) {
    svg.append(el('text', { x: (x0 + x1) / 2, y: (y0 + y1) / 2, class: 'empty', 'text-anchor': 'middle' }, '暂无统计数据'));
    return svg;
  }
  const coords = pts.map((p) => `${sx(p.time).toFixed(1)},${sy(p.count).toFixed(1)}`);
  if (pts.length > 1) {
    const first = sx(pts[0].time);
    const last = sx(pts[pts.length - 1].time);
    svg.append(el('polygon', { points: `${first},${y0} ${coords.join(' ')} ${last},${y0}`, class: 'area' }));
    svg.append(el('polyline', { points: coords.join(' '), class: 'line' }));
  }
  // Dots with a tooltip each; only when few enough to tell apart.
  if (pts.length <= 120) {
    for (const p of pts) {
      const dot = el('circle', { cx: sx(p.time), cy: sy(p.count), r: 3, class: 'dot' });
      dot.append(el('title', {}, `${hhmm(p.time, true)}  在线 ${p.count} 人`));
      svg.append(dot);
    }
  }
  return svg;
}
