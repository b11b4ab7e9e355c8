// format.js: how numbers and times read on screen. Prices and P&L are exact decimals in strings (the
// API's); they are shown as sent, with a sign and grouping for money.
export function money(v) {
  if (v == null || v === '') return '—';
  const n = Number(v);
  if (!Number.isFinite(n)) return String(v);
  const s = Math.abs(n).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  return `${n < 0 ? '−' : n > 0 ? '+' : ''}$${s}`;
}

export function signClass(v) {
  const n = Number(v);
  return !Number.isFinite(n) || n === 0 ? '' : n > 0 ? 'up' : 'down';
}

export function time(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleTimeString('en-US', { hour12: false });
}

export function dateTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleString('en-US', { hour12: false, month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export const label = (s) => (s == null ? '—' : String(s).replace(/_/g, ' '));
