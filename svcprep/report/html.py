"""``report.html``: one self-contained page (inline CSS, SVG and script; listening copies embedded as data URIs)
drawn from the report's JSON."""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path
from typing import Any

from svcprep.report.excerpts import EXCERPT_SECONDS, wav_excerpt
from svcprep.report.flags import FLAGS, TRAINERS
from svcprep.report.svg import f0_histogram, loudness_snr_scatter, minutes_bars

ADVISED_MINUTES = (10.0, 40.0)  # RVC's authors' advice on the amount of singing per voice

STYLE = """
body{font-family:sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:13px}th,td{padding:3px 8px;border-bottom:1px solid #eee;text-align:left}
th.sortable{cursor:pointer;text-decoration:underline dotted}td.num{text-align:right;font-variant-numeric:tabular-nums}
.flag{display:inline-block;background:#fbe3e3;color:#a11;border-radius:3px;padding:0 4px;margin:1px;font-size:12px}
.muted{color:#777}audio{height:28px;width:220px}
"""

# First on the page: any script error or console.error is written into the page, where a test (or a person) sees it.
ERROR_TRAP = """
window.__reportErrors=[];
window.addEventListener('error',function(e){window.__reportErrors.push(String(e.message));
document.documentElement.setAttribute('data-errors',window.__reportErrors.join(' | '));});
(function(){var original=console.error;console.error=function(){window.__reportErrors.push(
Array.prototype.join.call(arguments,' '));document.documentElement.setAttribute('data-errors',
window.__reportErrors.join(' | '));return original.apply(console,arguments);};})();
"""

SORT_SCRIPT = """
(function(){
  document.querySelectorAll('table.sortable-table').forEach(function(table){
    table.querySelectorAll('th.sortable').forEach(function(th, column){
      th.addEventListener('click', function(){
        var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
        var ascending = th.getAttribute('data-order') !== 'asc';
        rows.sort(function(a, b){
          var x = a.cells[column].getAttribute('data-value'), y = b.cells[column].getAttribute('data-value');
          var nx = parseFloat(x), ny = parseFloat(y);
          var order = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : String(x).localeCompare(String(y));
          return ascending ? order : -order;
        });
        rows.forEach(function(row){ body.appendChild(row); });
        table.querySelectorAll('th.sortable').forEach(function(h){ h.removeAttribute('data-order'); });
        th.setAttribute('data-order', ascending ? 'asc' : 'desc');
      });
    });
  });
  document.documentElement.setAttribute('data-ready', 'yes');
})();
"""


def _number(value: Any, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _cell(value: Any, text: str | None = None, numeric: bool = True) -> str:
    shown = text if text is not None else (_number(value) if numeric else str(value))
    sort_value = "" if value is None else (value if numeric else str(value))
    return f'<td class="{"num" if numeric else ""}" data-value="{escape(str(sort_value))}">{escape(shown)}</td>'


def _player(path: str, allowed: bool) -> str:
    if not allowed:
        return '<span class="muted">(listening copies capped)</span>'
    try:
        data = base64.b64encode(wav_excerpt(Path(path))).decode("ascii")
    except (OSError, ValueError, RuntimeError) as exc:
        return f'<span class="muted">no copy: {escape(str(exc))}</span>'
    return f'<audio controls preload="none" src="data:audio/wav;base64,{data}"></audio>'


def _trainer_ranges(report: dict[str, Any]) -> list[tuple[str, float, float]]:
    t = report["thresholds"]
    ranges = [(f"{report['limits']['trainer']} range", t["f0_min_hz"], t["f0_max_hz"])]
    seen = {(t["f0_min_hz"], t["f0_max_hz"])}
    for limits in TRAINERS.values():
        if (limits.f0_min_hz, limits.f0_max_hz) not in seen:
            seen.add((limits.f0_min_hz, limits.f0_max_hz))
            ranges.append((limits.name, limits.f0_min_hz, limits.f0_max_hz))
    return [(name, low, high) for name, low, high in ranges if low is not None and high is not None]


def _singers_section(report: dict[str, Any]) -> list[str]:
    singers = report["singers"]
    parts = ["<h2>Minutes per singer</h2>",
             minutes_bars({name: s["minutes"] for name, s in singers.items()}, ADVISED_MINUTES, "minutes per singer"),
             '<table class="sortable-table"><thead><tr>'
             + "".join(f'<th class="sortable">{h}</th>' for h in ("singer", "clips", "minutes", "median clip s",
                                                                   "voiced min", "F0 low Hz", "F0 high Hz",
                                                                   "flagged clips"))
             + "</tr></thead><tbody>"]
    for name, s in singers.items():
        parts.append("<tr>" + _cell(name, numeric=False) + _cell(s["clips"], str(s["clips"]))
                     + _cell(s["minutes"], f"{s['minutes']:.2f}") + _cell(s["clip_seconds"]["median"])
                     + _cell(s["voiced_seconds"] / 60.0, f"{s['voiced_seconds'] / 60.0:.2f}")
                     + _cell(s["f0_min_hz"]) + _cell(s["f0_max_hz"]) + _cell(s["flagged_clips"],
                                                                             str(s["flagged_clips"])) + "</tr>")
    parts.append("</tbody></table>")
    if report["pitch"]:
        parts.append("<h2>Sung range per singer</h2><p class=\"muted\">Voiced seconds per semitone (Praat, 40-2000 "
                     "Hz); shaded: the pitch range each trainer represents. Singing outside it is cut or "
                     "clamped.</p>")
        for name, s in singers.items():
            histogram = s["f0_histogram"]
            parts.append(f"<h3>{escape(name)}</h3>")
            parts.append(f0_histogram(histogram["edges_hz"], histogram["voiced_seconds"], _trainer_ranges(report),
                                      f"F0 histogram of {name}"))
    return parts


def _flagged_section(report: dict[str, Any], max_players: int) -> list[str]:
    flagged = [c for c in report["clips"] if c["flags"]]
    parts = [f"<h2>Flagged clips ({len(flagged)})</h2>"]
    if not flagged:
        return parts + ["<p>No clip is flagged.</p>"]
    dnsmos = report.get("dnsmos", False)
    headers = ("uid", "singer", "flags", "seconds", "peak dBFS", "clipped %", "LUFS", "SNR dB", "bandwidth Hz",
               "silence %", "DC", "F0 low", "F0 high", *(("DNSMOS",) if dnsmos else ()), "listen")
    parts.append('<table class="sortable-table" id="flagged"><thead><tr>'
                 + "".join(f'<th class="sortable">{h}</th>' if h != "listen" else f"<th>{h}</th>" for h in headers)
                 + "</tr></thead><tbody>")
    for index, c in enumerate(flagged):
        flags = "".join(f'<span class="flag">{escape(f)}</span>' for f in c["flags"])
        duplicate = f' <span class="muted">of {escape(c["duplicate_of"])}</span>' if c.get("duplicate_of") else ""
        parts.append(
            "<tr>" + _cell(c["uid"], numeric=False) + _cell(c["singer"], numeric=False)
            + f'<td data-value="{escape(",".join(c["flags"]))}">{flags}{duplicate}</td>'
            + _cell(c["seconds"], f"{c['seconds']:.2f}") + _cell(c["peak_dbfs"])
            + _cell(c["clipped_fraction"] * 100, f"{c['clipped_fraction'] * 100:.3f}") + _cell(c["lufs"])
            + _cell(c["snr_db"]) + _cell(c["bandwidth_hz"], _number(c["bandwidth_hz"], 0))
            + _cell(None if c["silence_fraction"] is None else c["silence_fraction"] * 100)
            + _cell(c["dc_offset"], f"{c['dc_offset']:.4f}") + _cell(c["f0_min_hz"]) + _cell(c["f0_max_hz"])
            + (_cell(c.get("dnsmos_ovrl"), _number(c.get("dnsmos_ovrl"), 2)) if dnsmos else "")
            + f"<td>{_player(c['path'], index < max_players)}</td></tr>")
    parts.append("</tbody></table>")
    parts.append(f'<p class="muted">Listening copies: the first {EXCERPT_SECONDS:g} s of each of the first '
                 f"{max_players} flagged clips, mono 16 kHz. Click a column to sort.</p>")
    return parts


def render_page(report: dict[str, Any], max_players: int = 60) -> str:
    totals, source = report["totals"], report["source"]
    counts = ", ".join(f"{flag}: {totals['flags'][flag]}" for flag in FLAGS if totals["flags"].get(flag))
    points = [(c["uid"], c["lufs"], c["snr_db"], bool(c["flags"])) for c in report["clips"]
              if c["lufs"] is not None and c["snr_db"] is not None]
    parts = [
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>svcprep data report</title>",
        f"<script>{ERROR_TRAP}</script><style>{STYLE}</style></head><body>",
        f"<h1>Data report: {escape(source['path'])}</h1>",
        f"<p>{totals['clips']} clips, {totals['seconds'] / 60.0:.1f} minutes, {len(report['singers'])} singer(s); "
        f"{totals['flagged_clips']} flagged ({escape(counts or 'no flag')}); {totals['failed']} unreadable. "
        f"Limits: {escape(report['limits']['trainer'])} ({escape(report['limits']['why'])}).</p>",
        *_singers_section(report),
        "<h2>Loudness against noise</h2><p class=\"muted\">Each clip's integrated loudness (ITU-R BS.1770-4) against "
        "its SNR estimate; flagged clips in red.</p>",
        loudness_snr_scatter(points, "loudness against SNR"),
        *_flagged_section(report, max_players),
    ]
    if report["failures"]:
        parts.append(f"<h2>Unreadable files ({len(report['failures'])})</h2><ul>"
                     + "".join(f"<li>{escape(f['path'])}: {escape(f['reason'])}</li>" for f in report["failures"])
                     + "</ul>")
    thresholds = ", ".join(f"{k} = {v}" for k, v in report["thresholds"].items())
    parts.append(f'<h2>Thresholds</h2><p class="muted">{escape(thresholds)} (set with --set NAME=VALUE)</p>')
    parts.append(f"<script>{SORT_SCRIPT}</script></body></html>\n")
    return "".join(parts)
