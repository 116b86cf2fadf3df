import { round } from './stats.mjs';

/**
 * One reported figure: its value beside the baseline measured in the same run, the ratio between
 * them, and the target it is judged against (on the value or on the ratio). pass is null when the
 * figure has no target (context only).
 */
export function figure({ id, name, value, unit, baseline = null, ratio, target = null, note }) {
  const r = ratio !== undefined ? ratio : baseline && baseline.value ? value / baseline.value : null;
  const judged = target ? (target.on === 'ratio' ? r : value) : null;
  let pass = null;
  if (target && Number.isFinite(judged)) {
    pass = target.op === '>=' ? judged >= target.value : target.op === '<=' ? judged <= target.value : judged === target.value;
  } else if (target) {
    pass = false;
  }
  return {
    id,
    name,
    value: round(value, 3),
    unit,
    baseline: baseline && { ...baseline, value: round(baseline.value, 3) },
    ratio: r === null ? null : round(r, 3),
    target,
    pass,
    ...(note ? { note } : {}),
  };
}

export function formatValue(value, unit) {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  if (unit === 'req/s' || unit === 'B' || unit === 'loads' || unit === 'users') return `${Math.round(value).toLocaleString('en-US')} ${unit}`;
  if (unit === 'ms') return `${value < 10 ? value.toFixed(2) : value.toFixed(1)} ms`;
  if (unit === 's') return `${value.toFixed(2)} s`;
  if (unit === 'MiB') return `${value.toFixed(1)} MiB`;
  if (unit === '%') return `${value.toFixed(1)} %`;
  return `${value} ${unit}`;
}

export function formatTarget(t) {
  if (!t) return '—';
  if (t.text) return t.text;
  const subject = t.on === 'ratio' ? 'ratio' : '';
  return `${subject} ${t.op === '==' ? '=' : t.op === '>=' ? '≥' : '≤'} ${t.value}${t.unit ? ` ${t.unit}` : ''}`.trim();
}
