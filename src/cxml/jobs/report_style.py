"""The report's inline stylesheet: system fonts only (nothing fetched); screen and paper."""

from __future__ import annotations

CSS = """
:root {
  --ink: #1d2733; --muted: #5f6b7a; --line: #e3e7ec; --bg: #f5f7f9;
  --high: #c0392b; --medium: #e69f00; --low: #2a9d8f; --accent: #1f4e79;
}
* { box-sizing: border-box; }
body {
  margin: 0; color: var(--ink); background: #fff;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
    "Noto Sans", "Liberation Sans", sans-serif;
  -webkit-print-color-adjust: exact; print-color-adjust: exact;
}
header, main, footer { max-width: 1100px; margin: 0 auto; padding: 0 28px; }
header { padding-top: 28px; padding-bottom: 10px; border-bottom: 3px solid var(--accent); }
h1 { font-size: 28px; margin: 0 0 2px; letter-spacing: -0.01em; }
h2 { font-size: 20px; margin: 0 0 6px; break-after: avoid; }
h3 { font-size: 15px; margin: 18px 0 4px; color: var(--muted); font-weight: 600; }
.sub { color: var(--muted); margin: 0 0 12px; }
nav { display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 13px; }
nav a { color: var(--accent); text-decoration: none; }
nav a:hover { text-decoration: underline; }
section { padding: 22px 0 12px; border-bottom: 1px solid var(--line); }
.lead { color: var(--muted); margin: 0 0 10px; }
.kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(185px, 1fr)); gap: 12px; }
.kpi {
  background: var(--bg); border-left: 4px solid var(--accent); border-radius: 6px;
  padding: 10px 14px; break-inside: avoid;
}
.kpi .l { color: var(--muted); font-size: 13px; }
.kpi .v {
  font-size: 27px; font-weight: 650; line-height: 1.25; font-variant-numeric: tabular-nums;
}
.kpi .d { color: var(--muted); font-size: 12.5px; }
table { border-collapse: collapse; width: 100%; font-size: 13.5px; margin: 8px 0 12px; }
th {
  text-align: left; font-weight: 600; font-size: 12px; color: var(--muted);
  text-transform: uppercase; letter-spacing: 0.03em;
  border-bottom: 2px solid var(--line); padding: 6px 8px;
}
td { border-bottom: 1px solid var(--line); padding: 6px 8px; vertical-align: top; }
tr { break-inside: avoid; }
tbody tr:nth-child(even) td { background: #fafbfc; }
.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.top .n { width: 1%; }
table.narrow { width: auto; min-width: 420px; }
table.mid { width: auto; min-width: 640px; }
table.mid td, table.mid th, table.narrow td, table.narrow th { padding-right: 20px; }
th.n { white-space: normal; }
table.top td:nth-child(2), table.top td:nth-child(4) { white-space: nowrap; width: 1%; }
table.top td:nth-child(6) { width: 42%; }
table.top td:nth-child(7) { min-width: 180px; }
table.earlier td:first-child, table.earlier td:last-child { white-space: nowrap; }
table.facts { width: auto; min-width: 420px; }
table.facts th { width: 170px; border-bottom: 1px solid var(--line); }
.badge {
  display: inline-block; padding: 1px 9px; border-radius: 10px; font-size: 12px;
  font-weight: 600; color: #fff; background: #6b7280;
}
.b-high, .b-drifted { background: var(--high); }
.b-medium, .b-watch { background: var(--medium); color: #1d2733; }
.b-low, .b-stable { background: var(--low); }
.reasons { margin: 0; padding-left: 16px; }
.muted { color: var(--muted); }
.small { font-size: 12.5px; }
.note, .warning, .ok { padding: 10px 14px; border-radius: 4px; margin: 8px 0; }
.note { background: var(--bg); border-left: 4px solid #c5ccd4; color: var(--muted); }
.warning {
  background: #fdecea; border-left: 4px solid var(--high); color: #7b1d12; font-weight: 600;
}
.ok { background: #e6f4f1; border-left: 4px solid var(--low); }
.meter {
  height: 14px; max-width: 560px; background: var(--line); border-radius: 7px;
  overflow: hidden; margin: 0 0 10px;
}
.meter > span { display: block; height: 100%; background: var(--accent); }
img { display: block; max-width: 100%; height: auto; margin: 6px 0; break-inside: avoid; }
footer { color: var(--muted); font-size: 12.5px; padding-top: 10px; padding-bottom: 28px; }
@media print {
  body { font-size: 10.5pt; }
  nav { display: none; }
  header, main, footer { max-width: none; padding: 0; }
  section { padding-top: 14px; }
  img { max-width: 85%; }
  table { font-size: 9pt; }
  th { font-size: 7.5pt; }
  table.top td:nth-child(7) { min-width: 0; }
  table.top td:nth-child(6) { width: 50%; }
}
"""
