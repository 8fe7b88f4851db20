// The live view: activations per second by status, warm latency percentiles, the pool against its target,
// cold starts; read from `/metrics` every few seconds and drawn as charts.

import { h, show } from '../dom.js';
import { drawChart } from '../charts.js';
import { buckets, parseExposition, quantileBetween, sumBy } from '../metrics.js';

const REFRESH_MS = 3000;
const KEEP = 60;  // samples per chart: three minutes
const STATUSES = ['success', 'application_error', 'developer_error', 'internal_error'];

function figure(id, caption, description) {
  return h('figure', { class: 'chart', id },
    h('figcaption', {}, caption),
    h('p', { class: 'hint' }, description),
    (() => {
      const chart = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
      chart.setAttribute('viewBox', '0 0 400 160');
      chart.setAttribute('role', 'img');
      chart.setAttribute('aria-label', `${caption} over the last three minutes; current values below`);
      return chart;
    })(),
    h('ul', { class: 'legend' }));
}

async function scrape() {
  const response = await fetch('/metrics', { credentials: 'omit', cache: 'no-store' });
  if (!response.ok) throw new Error(`/metrics answered ${response.status}`);
  return { atMs: performance.now(), samples: parseExposition(await response.text()) };
}

export async function liveView(main) {
  const rate = figure('chart-rate', 'Activations per second', 'Ended activations, by status.');
  const latency = figure('chart-latency', 'Warm latency',
    'Percentiles of the run time of the activations that ended in each interval without a cold start.');
  const pool = figure('chart-pool', 'Pool', 'Prewarmed and leased sandboxes against the target, and the arrival rate (per second).');
  const cold = figure('chart-cold', 'Cold starts per second', 'Activations that waited for a sandbox to be created.');
  const error = h('div', { 'aria-live': 'polite' });
  show(main, h('h1', {}, 'Live'), h('p', { class: 'hint' }, `From /metrics, every ${REFRESH_MS / 1000} s.`), error,
    h('div', { class: 'charts' }, rate, latency, pool, cold));

  const history = { rate: STATUSES.map(() => []), p50: [], p90: [], p99: [], prewarmed: [], leased: [], target: [], arrivals: [], cold: [] };
  const push = (list, value) => { list.push(value); if (list.length > KEEP) list.shift(); };
  let previous = null;
  let timer = null;
  let stopped = false;

  async function tick() {
    try {
      const now = await scrape();
      const containers = sumBy(now.samples, 'whisklet_pool_containers', 'state');
      push(history.prewarmed, containers.prewarmed ?? 0);
      push(history.leased, containers.leased ?? 0);
      push(history.target, sumBy(now.samples, 'whisklet_pool_target_containers')[''] ?? 0);
      push(history.arrivals, sumBy(now.samples, 'whisklet_pool_arrivals_per_second')[''] ?? 0);
      if (previous) {
        const seconds = Math.max((now.atMs - previous.atMs) / 1000, 0.001);
        const ended = sumBy(now.samples, 'whisklet_activations_total', 'status');
        const endedBefore = sumBy(previous.samples, 'whisklet_activations_total', 'status');
        STATUSES.forEach((status, i) => push(history.rate[i], Math.max(0, ((ended[status] || 0) - (endedBefore[status] || 0)) / seconds)));
        const after = buckets(now.samples, 'whisklet_activation_warm_duration_seconds');
        const before = buckets(previous.samples, 'whisklet_activation_warm_duration_seconds');
        for (const [key, q] of [['p50', 0.5], ['p90', 0.9], ['p99', 0.99]]) {
          const seconds_ = quantileBetween(before, after, q);
          push(history[key], seconds_ === null ? null : seconds_ * 1000);
        }
        const colds = (sumBy(now.samples, 'whisklet_cold_starts_total')[''] || 0) - (sumBy(previous.samples, 'whisklet_cold_starts_total')[''] || 0);
        push(history.cold, Math.max(0, colds / seconds));
      }
      previous = now;
      drawChart(rate, STATUSES.map((status, i) => ({ name: status.replace('_', ' '), points: history.rate[i] })), '/s', KEEP);
      drawChart(latency, [{ name: 'p50', points: history.p50 }, { name: 'p90', points: history.p90 }, { name: 'p99', points: history.p99 }], ' ms', KEEP);
      drawChart(pool, [{ name: 'prewarmed', points: history.prewarmed }, { name: 'leased', points: history.leased },
        { name: 'target', points: history.target }, { name: 'arrivals/s', points: history.arrivals }], '', KEEP);
      drawChart(cold, [{ name: 'cold starts', points: history.cold }], '/s', KEEP);
      show(error);
    } catch (failure) {
      show(error, h('p', { class: 'error', role: 'alert' }, `Could not read /metrics: ${failure.message}`));
    }
    if (!stopped) timer = setTimeout(tick, REFRESH_MS);
  }
  await tick();
  return () => { stopped = true; clearTimeout(timer); };
}
