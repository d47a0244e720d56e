"""Charts as inline SVG strings (no script, no external file): the page stays one self-contained file."""

from __future__ import annotations

import math
from html import escape

BAR = "#3b6fd4"
SHADE = "#f3d27a"
FLAGGED = "#d23c3c"
CLEAN = "#3b6fd4"
AXIS = "#444"
FONT = 'font-family="sans-serif" font-size="11"'


def _svg(width: int, height: int, body: list[str], label: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}">' + "".join(body) + "</svg>")


def _text(x: float, y: float, text: str, anchor: str = "start", extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" {FONT} {extra}>{escape(text)}</text>'


def minutes_bars(minutes: dict[str, float], advised: tuple[float, float], label: str) -> str:
    """Horizontal bars of minutes per singer over a shaded advised range."""
    names = list(minutes)
    width, left, right, row = 760, 160, 30, 22
    height = 40 + row * max(1, len(names))
    top = max([*minutes.values(), advised[1]]) * 1.1
    scale = (width - left - right) / top
    body = [f'<rect x="{left + advised[0] * scale:.1f}" y="10" width="{(advised[1] - advised[0]) * scale:.1f}" '
            f'height="{height - 30}" fill="{SHADE}" opacity="0.5"/>',
            _text(left + advised[0] * scale + 3, 22, f"advised {advised[0]:g}-{advised[1]:g} min")]
    for index, name in enumerate(names):
        y = 28 + index * row
        body.append(_text(left - 6, y + 12, name[:24], "end"))
        body.append(f'<rect class="bar" x="{left}" y="{y}" width="{max(minutes[name] * scale, 1):.1f}" '
                    f'height="{row - 6}" fill="{BAR}"/>')
        body.append(_text(left + minutes[name] * scale + 4, y + 12, f"{minutes[name]:.1f} min"))
    body.append(f'<line x1="{left}" y1="{height - 14}" x2="{width - right}" y2="{height - 14}" stroke="{AXIS}"/>')
    return _svg(width, height, body, label)


def f0_histogram(edges_hz: list[float], seconds: list[float], ranges: list[tuple[str, float, float]],
                 label: str) -> str:
    """Voiced seconds per semitone on a log-frequency axis, each trainer range shaded."""
    width, height, left, right, bottom, top_pad = 760, 170, 50, 20, 30, 26
    low, high = math.log2(edges_hz[0]), math.log2(edges_hz[-1])

    def x(hz: float) -> float:
        return left + (math.log2(hz) - low) / (high - low) * (width - left - right)

    peak = max(seconds, default=0.0) or 1.0
    plot_height = height - bottom - top_pad
    body = []
    for index, (name, f_low, f_high) in enumerate(ranges):
        body.append(f'<rect class="range" x="{x(f_low):.1f}" y="{top_pad}" width="{x(f_high) - x(f_low):.1f}" '
                    f'height="{plot_height}" fill="{SHADE}" opacity="{0.45 if index == 0 else 0.25}"/>')
        body.append(_text(x(f_low) + 3, 12 + 12 * index, f"{name}: {f_low:g}-{f_high:g} Hz"))
    for index, value in enumerate(seconds):
        if value <= 0:
            continue
        bar = value / peak * plot_height
        body.append(f'<rect class="bar" x="{x(edges_hz[index]):.1f}" y="{top_pad + plot_height - bar:.1f}" '
                    f'width="{max(x(edges_hz[index + 1]) - x(edges_hz[index]) - 1, 1):.1f}" height="{bar:.1f}" '
                    f'fill="{BAR}"/>')
    base = top_pad + plot_height
    body.append(f'<line x1="{left}" y1="{base}" x2="{width - right}" y2="{base}" stroke="{AXIS}"/>')
    for hz in (50, 100, 200, 500, 1000, 2000):
        if edges_hz[0] <= hz <= edges_hz[-1]:
            body.append(f'<line x1="{x(hz):.1f}" y1="{base}" x2="{x(hz):.1f}" y2="{base + 4}" stroke="{AXIS}"/>')
            body.append(_text(x(hz), base + 16, f"{hz} Hz", "middle"))
    body.append(_text(left - 4, top_pad + 8, f"{peak:.0f} s", "end"))
    return _svg(width, height, body, label)


def loudness_snr_scatter(points: list[tuple[str, float, float, bool]], label: str) -> str:
    """(uid, LUFS, SNR dB, flagged): flagged clips in red with their uid."""
    width, height, left, right, bottom, top_pad = 760, 360, 56, 20, 40, 14
    if not points:
        return _svg(width, 40, [_text(10, 24, "no clip has both a loudness and an SNR")], label)
    xs, ys = [p[1] for p in points], [p[2] for p in points]
    x_low, x_high = math.floor(min(xs) / 5) * 5 - 5, math.ceil(max(xs) / 5) * 5 + 5
    y_low, y_high = math.floor(min(ys) / 10) * 10 - 5, math.ceil(max(ys) / 10) * 10 + 5

    def at(lufs: float, snr: float) -> tuple[float, float]:
        return (left + (lufs - x_low) / (x_high - x_low) * (width - left - right),
                height - bottom - (snr - y_low) / (y_high - y_low) * (height - bottom - top_pad))

    body = [f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="{AXIS}"/>',
            f'<line x1="{left}" y1="{top_pad}" x2="{left}" y2="{height - bottom}" stroke="{AXIS}"/>',
            _text((width + left) / 2, height - 6, "integrated loudness (LUFS)", "middle"),
            _text(14, (height - bottom) / 2, "SNR (dB)", "middle",
                  f'transform="rotate(-90 14 {(height - bottom) / 2:.1f})"')]
    for value in range(int(x_low), int(x_high) + 1, 5):
        px, _ = at(value, y_low)
        body.append(_text(px, height - bottom + 14, str(value), "middle"))
    for value in range(int(y_low) + 5, int(y_high) + 1, 10):
        _, py = at(x_low, value)
        body.append(_text(left - 4, py + 4, str(value), "end"))
    labelled = 0
    for uid, lufs, snr, flagged in sorted(points, key=lambda p: p[3]):  # flagged drawn last, on top
        px, py = at(lufs, snr)
        color = FLAGGED if flagged else CLEAN
        body.append(f'<circle class="{"flagged" if flagged else "clip"}" cx="{px:.1f}" cy="{py:.1f}" r="4" '
                    f'fill="{color}" opacity="0.8"><title>{escape(uid)}</title></circle>')
        if flagged and labelled < 40:
            body.append(_text(px + 6, py - 4, uid[-28:], extra=f'fill="{FLAGGED}"'))
            labelled += 1
    return _svg(width, height, body, label)
