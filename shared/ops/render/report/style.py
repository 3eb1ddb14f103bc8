"""The report's stylesheet, inlined into the page: system fonts only, nothing fetched."""

CSS = """
:root {
  --ink: #1f2328; --muted: #59636e; --line: #d8dee4; --soft: #f6f8fa; --bg: #ffffff;
  --good: #00704f; --bad: #b34400;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
    "Noto Sans", "Liberation Sans", sans-serif;
  color: var(--ink); background: var(--bg); font-size: 14px; line-height: 1.45;
}
body { margin: 0; }
main { max-width: 1000px; margin: 0 auto; padding: 28px 20px 40px; }
h1 { font-size: 24px; margin: 0 0 2px; letter-spacing: -0.01em; }
h2 { font-size: 18px; margin: 0 0 4px; }
.sub, .intro, .none, footer, caption { color: var(--muted); }
.sub { margin: 0 0 16px; }
.intro { margin: 0 0 10px; max-width: 80ch; }
header { padding-bottom: 8px; border-bottom: 1px solid var(--line); }
.tiles { display: grid; grid-template-columns: repeat(5, 1fr); gap: 10px; margin-bottom: 14px; }
.tile { border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px;
  background: var(--soft); border-top: 3px solid #8c959f; min-width: 0; }
.tile.good { border-top-color: var(--good); }
.tile.bad { border-top-color: var(--bad); }
.tile.warn { border-top-color: #e69f00; }
.tile .label { font-size: 11px; text-transform: uppercase; letter-spacing: 0.06em;
  color: var(--muted); }
.tile .value { font-size: 20px; font-weight: 600; font-variant-numeric: tabular-nums;
  overflow-wrap: anywhere; }
.tile.bad .value { color: var(--bad); }
.tile .note { font-size: 12px; color: var(--muted); overflow-wrap: anywhere; }
section { padding: 22px 0 8px; border-bottom: 1px solid var(--line); }
section.empty { text-align: center; padding: 60px 0; }
section.empty h2 { font-size: 22px; }
figure { margin: 0 0 6px; overflow-x: auto; }
svg.chart { display: block; max-width: 100%; height: auto; font-family: inherit; }
table { border-collapse: collapse; width: 100%; font-size: 12px; margin: 6px 0 10px;
  font-variant-numeric: tabular-nums; }
caption { text-align: left; font-size: 12px; padding: 0 0 4px; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid var(--line);
  vertical-align: top; overflow-wrap: break-word; }
th { background: var(--soft); font-weight: 600; white-space: nowrap; }
.num { text-align: right; white-space: nowrap; }
.key { white-space: nowrap; }
td.long { overflow-wrap: anywhere; font-family: ui-monospace, "DejaVu Sans Mono", monospace;
  font-size: 11px; }
tbody tr:last-child td { border-bottom: 0; }
code { background: var(--soft); border: 1px solid var(--line); border-radius: 4px;
  padding: 0 4px; font-size: 13px; }
footer { font-size: 12px; padding-top: 14px; }
@media (max-width: 800px) { .tiles { grid-template-columns: repeat(2, 1fr); } }
@media print { main { max-width: none; } section { break-inside: avoid; } }
"""
