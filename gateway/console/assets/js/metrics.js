// Reading Whisklet's `/metrics` (Prometheus text format) into numbers the live view can chart.

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Every sample of the exposition as `{name, labels, value}`. */
export function parseExposition(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = SAMPLE.exec(line);
    if (!match) continue;
    const labels = {};
    for (const [, key, value] of (match[2] || '').matchAll(LABEL)) labels[key] = value.replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

/** The sum of a metric's samples, grouped by one label (or all together when `by` is absent). */
export function sumBy(samples, name, by) {
  const sums = {};
  for (const sample of samples) {
    if (sample.name !== name) continue;
    const group = by ? sample.labels[by] : '';
    sums[group] = (sums[group] || 0) + sample.value;
  }
  return sums;
}

/** Cumulative histogram buckets `[[upperBound, count], ...]`, summed over every other label, sorted. */
export function buckets(samples, histogram) {
  const byBound = sumBy(samples, `${histogram}_bucket`, 'le');
  return Object.entries(byBound).map(([le, count]) => [le === '+Inf' ? Infinity : Number(le), count]).sort((a, b) => a[0] - b[0]);
}

/**
 * The q-quantile of the observations between two scrapes of the same histogram, interpolated linearly inside
 * its bucket as Prometheus' histogram_quantile does; null when nothing was observed in between.
 */
export function quantileBetween(before, after, q) {
  const counts = after.map(([bound, count], i) => [bound, count - ((before[i] && before[i][1]) || 0)]);
  const total = counts.length ? counts[counts.length - 1][1] : 0;
  if (total <= 0) return null;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const [bound, count] of counts) {
    if (count >= rank) {
      if (bound === Infinity) return lowerBound;
      return lowerBound + ((bound - lowerBound) * (rank - lowerCount)) / Math.max(count - lowerCount, 1e-9);
    }
    lowerBound = bound;
    lowerCount = count;
  }
  return lowerBound;
}
