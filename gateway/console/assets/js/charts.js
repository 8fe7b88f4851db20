// Small SVG line charts drawn from the live view's samples: no library, no inline style.

const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 400;
const HEIGHT = 160;
const PAD = { left: 44, right: 8, top: 10, bottom: 18 };

function svg(tag, attributes = {}, text) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

function format(value, unit) {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return `${value.toFixed(digits)}${unit}`;
}

/**
 * Draws `series` (`[{name, points: [number|null, ...]}]`, oldest first) into `figure`'s SVG and legend:
 * one line per series on a shared axis from 0, a gap where a point is null.
 */
export function drawChart(figure, series, unit, capacity) {
  const chart = figure.querySelector('svg');
  const legend = figure.querySelector('ul');
  const values = series.flatMap((s) => s.points).filter((v) => v !== null && Number.isFinite(v));
  const top = Math.max(...values, 0) || 1;
  const x = (i) => PAD.left + ((WIDTH - PAD.left - PAD.right) * i) / Math.max(capacity - 1, 1);
  const y = (v) => HEIGHT - PAD.bottom - ((HEIGHT - PAD.top - PAD.bottom) * v) / top;
  chart.replaceChildren(
    svg('line', { class: 'axis', x1: PAD.left, y1: y(0), x2: WIDTH - PAD.right, y2: y(0) }),
    svg('line', { class: 'axis', x1: PAD.left, y1: y(top), x2: WIDTH - PAD.right, y2: y(top) }),
    svg('text', { x: 2, y: y(top) + 4 }, format(top, unit)),
    svg('text', { x: 2, y: y(0) + 4 }, format(0, unit)),
    svg('text', { x: PAD.left, y: HEIGHT - 2 }, 'older'),
    svg('text', { x: WIDTH - PAD.right - 24, y: HEIGHT - 2 }, 'now'),
  );
  series.forEach((s, index) => {
    const offset = capacity - s.points.length;
    let run = [];
    const flush = () => {
      if (run.length > 1) chart.append(svg('polyline', { class: `line series-${index}`, points: run.join(' ') }));
      else if (run.length === 1) chart.append(svg('circle', { class: `series-${index}`, r: 2, cx: run[0].split(',')[0], cy: run[0].split(',')[1] }));
      run = [];
    };
    s.points.forEach((value, i) => {
      if (value === null || !Number.isFinite(value)) flush();
      else run.push(`${x(offset + i).toFixed(1)},${y(value).toFixed(1)}`);
    });
    flush();
  });
  legend.replaceChildren(...series.map((s, index) => {
    const item = document.createElement('li');
    const swatch = document.createElement('span');
    swatch.className = `swatch series-${index}`;
    swatch.setAttribute('aria-hidden', 'true');
    item.append(swatch, `${s.name}: ${format(s.points[s.points.length - 1], unit)}`);
    return item;
  }));
}
