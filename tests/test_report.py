"""``svcprep report``: every measure against an independent reference (pyloudnorm for loudness, NeMo's bandwidth
rule run with librosa, signals with known level, noise, F0, DC and clipping), the flags against a corpus with one
planted defect per flag, and the page in a real headless browser."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
from typer.testing import CliRunner

from svcprep.cli.main import app
from svcprep.report.bandwidth import StreamingBandwidth
from svcprep.report.clip_pass import PassSettings, measure_clip
from svcprep.report.flags import FLAGS, Thresholds
from svcprep.report.loudness import StreamingLoudness
from svcprep.report.svg import BAR, FLAGGED
from tests.report_corpus import SAMPLE_RATE, planted_corpus, sung, write

runner = CliRunner()
SETTINGS = PassSettings(clip_level=0.999, silence_dbfs=-42.0, with_pitch=True)


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> tuple[Path, dict[str, list[str]], dict]:
    root = tmp_path_factory.mktemp("planted")
    expected = planted_corpus(root / "corpus")
    result = runner.invoke(app, ["report", str(root / "corpus"), "--out", str(root / "report"), "--workers", "2"])
    assert result.exit_code == 0, result.output
    return root, expected, json.loads((root / "report" / "report.json").read_text())


# -- the flags ------------------------------------------------------------------------------------------------------
def test_exactly_the_planted_clips_are_flagged_and_the_clean_ones_are_not(planted):
    _, expected, report = planted
    got = {clip["uid"]: clip["flags"] for clip in report["clips"]}
    assert got == expected
    assert set().union(*expected.values()) == set(FLAGS)  # one planted clip per flag
    assert report["totals"]["flags"] == {flag: 1 for flag in FLAGS}
    duplicate = next(c for c in report["clips"] if c["uid"] == "bob/copy_of_clean_1")
    assert duplicate["duplicate_of"] == "alice/clean_1"


def test_the_json_has_the_documented_shape(planted):
    _, _, report = planted
    keys = {"uid", "path", "singer", "seconds", "peak_dbfs", "clipped_fraction", "lufs", "silence_fraction",
            "dc_offset", "bandwidth_hz", "snr_db", "f0_min_hz", "f0_max_hz", "flags"}
    assert all(keys <= set(clip) for clip in report["clips"])
    alice = report["singers"]["alice"]
    clips = [c for c in report["clips"] if c["singer"] == "alice"]
    assert alice["clips"] == len(clips)
    assert alice["seconds"] == pytest.approx(sum(c["seconds"] for c in clips), abs=1e-3)
    assert sum(alice["clip_seconds"]["histogram"]["counts"]) == len(clips)
    histogram = alice["f0_histogram"]
    assert len(histogram["edges_hz"]) == len(histogram["voiced_seconds"]) + 1
    # alice sings 220, 330, 262, 196 and 220 Hz: the histogram's voiced seconds lie in those semitones
    edges = np.array(histogram["edges_hz"])
    seconds = np.array(histogram["voiced_seconds"])
    sung_bins = {int(np.searchsorted(edges, f) - 1) for f in (220.0, 330.0, 262.0, 196.0)}
    near = {b + d for b in sung_bins for d in (-1, 0, 1)}
    assert seconds[sorted(near)].sum() == pytest.approx(seconds.sum(), rel=0.02)


def test_a_trainer_brings_its_own_limits_and_set_overrides_them(tmp_path):
    write(tmp_path / "c" / "s" / "half_second.wav", sung(0.5, 220.0, phrase_seconds=0.4, pause_seconds=0.1))
    write(tmp_path / "c" / "s" / "eight_seconds.wav", sung(8.0, 220.0))

    def flags(*args: str) -> dict[str, list[str]]:
        result = runner.invoke(app, ["report", str(tmp_path / "c"), "--out", str(tmp_path / "r"), "--workers", "0",
                                     "--no-pitch", *args])
        assert result.exit_code == 0, result.output
        return {c["uid"]: c["flags"] for c in json.loads((tmp_path / "r" / "report.json").read_text())["clips"]}

    assert flags() == {"s/eight_seconds": [], "s/half_second": []}  # so-vits-svc's 0.3 s minimum
    # RVC's bucket sampler drops clips outside 0.75-6.75 s
    assert flags("--trainer", "rvc") == {"s/eight_seconds": ["too_long"], "s/half_second": ["too_short"]}
    assert flags("--trainer", "rvc", "--set", "max_seconds=10") == {"s/eight_seconds": [],
                                                                    "s/half_second": ["too_short"]}


# -- the measures against references ------------------------------------------------------------------------------
@pytest.mark.parametrize("sample_rate, channels, seconds", [(44100, 1, 23.37), (48000, 2, 12.1), (16000, 1, 0.41),
                                                            (22050, 2, 0.4), (32000, 1, 3.0)])
def test_loudness_equals_pyloudnorm_on_the_whole_file(tmp_path, sample_rate, channels, seconds):
    """Filters and gates run block by block (10 s blocks: the 23 s file crosses two) give the library's value."""
    import pyloudnorm

    rng = np.random.default_rng(sample_rate + channels)
    n = int(seconds * sample_rate)
    x = rng.normal(0.0, 0.1, (n, channels)) * np.linspace(0.0, 1.0, n)[:, None]
    path = write(tmp_path / "x.wav", x.astype(np.float32), sample_rate, subtype="FLOAT")
    data = sf.read(path, dtype="float32", always_2d=True)[0].astype(np.float64)
    expected = pyloudnorm.Meter(sample_rate).integrated_loudness(data if channels > 1 else data[:, 0])
    assert measure_clip(path, SETTINGS).values["lufs"] == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_loudness_fed_in_odd_pieces_equals_pyloudnorm_and_a_clip_shorter_than_a_block_has_none():
    import pyloudnorm

    rng = np.random.default_rng(5)
    x = rng.normal(0.0, 0.05, (3 * 44100 + 17, 2)) * np.sin(np.linspace(0, 9, 3 * 44100 + 17))[:, None]
    meter = StreamingLoudness(44100, 2)
    start = 0
    while start < len(x):
        size = int(rng.integers(1, 7000))
        meter.update(x[start:start + size].T)
        start += size
    assert meter.lufs() == pytest.approx(pyloudnorm.Meter(44100).integrated_loudness(x), rel=1e-12)
    short = StreamingLoudness(44100, 1)
    short.update(x[:1000, :1].T)
    assert short.lufs() is None  # pyloudnorm refuses it too
    with pytest.raises(ValueError):
        pyloudnorm.Meter(44100).integrated_loudness(x[:1000, 0])


def nemo_bandwidth(signal: np.ndarray, sample_rate: int, threshold_db: float = -50.0) -> float:
    """NeMo speech data explorer's rule, with librosa: the reference."""
    import librosa

    spectrum = np.mean(np.abs(librosa.stft(y=signal, n_fft=512, hop_length=int(sample_rate * 0.01),
                                           window="blackmanharris")) ** 2, axis=1)
    power_db = librosa.power_to_db(S=spectrum, ref=np.max, top_db=100)
    above = np.nonzero(power_db > threshold_db)[0]
    return float(above[-1] / 512 * sample_rate) if above.size else 0.0


@pytest.mark.parametrize("source_rate, sample_rate", [(8000, 44100), (16000, 44100), (22050, 44100),
                                                      (16000, 48000), (44100, 44100)])
def test_bandwidth_follows_nemos_rule_and_shows_an_upsampled_recording(source_rate, sample_rate):
    rng = np.random.default_rng(source_rate)
    noise = rng.normal(0.0, 0.1, source_rate * 3)
    fade = np.sin(np.linspace(0.0, np.pi / 2, source_rate // 50)) ** 2  # 20 ms: no click at either end
    noise[: fade.size] *= fade
    noise[-fade.size:] *= fade[::-1]
    signal = noise if source_rate == sample_rate else soxr.resample(noise, source_rate, sample_rate)
    meter = StreamingBandwidth(sample_rate)
    start = 0
    while start < len(signal):  # pieces that do not line up with the hop
        size = int(rng.integers(100, 30000))
        meter.update(signal[start:start + size])
        start += size
    meter.finish()
    assert meter.bandwidth_hz() == nemo_bandwidth(signal, sample_rate)
    # the recording's own Nyquist frequency, give or take the resampler's transition band and the -50 dB rule
    assert source_rate / 2 * 0.9 <= meter.bandwidth_hz() <= min(sample_rate / 2, source_rate / 2 * 1.45)


@pytest.mark.parametrize("snr_db", [10.0, 20.0, 30.0])
def test_snr_of_singing_with_pauses_in_known_noise(tmp_path, snr_db):
    voice = sung(6.0, 220.0, seed=1, noise_floor=0.0)
    phrase_power = np.mean(voice[int(0.05 * SAMPLE_RATE): int(0.95 * SAMPLE_RATE)] ** 2)  # inside a phrase
    noise = np.random.default_rng(2).normal(0.0, 1.0, voice.size)
    noise *= np.sqrt(phrase_power / np.mean(noise ** 2) * 10 ** (-snr_db / 10))
    path = write(tmp_path / "n.wav", (voice + noise).astype(np.float32), subtype="FLOAT")
    expected = 10 * np.log10((phrase_power + np.mean(noise ** 2)) / np.mean(noise ** 2))
    assert measure_clip(path, SETTINGS).values["snr_db"] == pytest.approx(expected, abs=1.5)


def test_peak_clipping_dc_and_silence_of_a_known_signal(tmp_path):
    n = SAMPLE_RATE * 2
    x = np.zeros(n)
    x[: n // 4] = 0.5 * np.sin(2 * np.pi * 440 * np.arange(n // 4) / SAMPLE_RATE)  # a quarter of it sounds
    x[:100] = 1.0  # 100 clipped samples
    x += 0.02  # DC
    x = x.astype(np.float32)
    values = measure_clip(write(tmp_path / "k.wav", x, subtype="FLOAT"), SETTINGS).values
    assert values["peak_dbfs"] == pytest.approx(20 * np.log10(np.float32(1.02)), abs=1e-3)
    assert values["clipped_fraction"] == pytest.approx(100 / n, abs=1e-8)  # stored to 8 decimals
    assert values["dc_offset"] == pytest.approx(float(np.mean(x, dtype=np.float64)), abs=1e-6)
    assert values["silence_fraction"] == pytest.approx(0.75, abs=0.01)  # the DC-only part is silence, not sound


@pytest.mark.parametrize("f0_low, f0_high", [(110.0, 880.0), (60.0, 240.0)])
def test_the_sung_range_of_a_glide_with_known_f0(tmp_path, f0_low, f0_high):
    seconds = 4.0
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    f0 = f0_low * (f0_high / f0_low) ** (t / seconds)  # an exponential glide: equal time per semitone
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    x = 0.3 * sum(np.sin(k * phase) / k for k in range(1, 6))
    values = measure_clip(write(tmp_path / "g.wav", x.astype(np.float32), subtype="FLOAT"), SETTINGS).values
    # Praat's frames: 10 ms apart, centred in the clip, the first and last half a window (3 periods of the 40 Hz
    # floor) from its ends; the true F0 at those times gives the percentiles.
    window = 3 / 40.0
    num_frames = int((seconds - window) / 0.01) + 1
    first = (seconds - (num_frames - 1) * 0.01) / 2
    true_f0 = f0_low * (f0_high / f0_low) ** ((first + 0.01 * np.arange(num_frames)) / seconds)
    for got, percentile in ((values["f0_min_hz"], 1), (values["f0_max_hz"], 99)):
        assert 1200 * np.log2(got / np.percentile(true_f0, percentile)) == pytest.approx(0.0, abs=15)
    assert values["voiced_fraction"] > 0.95


@pytest.mark.parametrize("seconds", [12.5, 4.0])
def test_dnsmos_of_a_clip_is_the_librarys(tmp_path, seconds):
    """Windows handed to speechmos one at a time as they pass (or a short clip whole) average to what the library
    gives for the whole clip, resampled to 16 kHz at once."""
    from speechmos import dnsmos

    x = sung(seconds, 220.0, seed=4)
    path = write(tmp_path / "d.wav", x.astype(np.float32), subtype="FLOAT")
    settings = PassSettings(clip_level=0.999, silence_dbfs=-42.0, with_pitch=False, with_dnsmos=True)
    values = measure_clip(path, settings).values
    whole = soxr.resample(sf.read(path, dtype="float32")[0].astype(np.float64), SAMPLE_RATE, 16000, quality="HQ")
    expected = dnsmos.run(np.clip(whole, -1.0, 1.0), 16000)
    for key, column in (("ovrl_mos", "dnsmos_ovrl"), ("sig_mos", "dnsmos_sig"), ("bak_mos", "dnsmos_bak"),
                        ("p808_mos", "dnsmos_p808")):
        assert values[column] == pytest.approx(expected[key], abs=1e-4)  # stored to 4 decimals


# -- the command ----------------------------------------------------------------------------------------------------
def test_fail_on_gives_exit_1_only_for_a_listed_flag_that_occurs(planted, tmp_path):
    root, _, _ = planted
    corpus = root / "corpus"
    ok = runner.invoke(app, ["report", str(corpus), "--out", str(tmp_path / "a"), "--no-pitch", "--workers", "0",
                             "--fail-on", "pitch_out_of_range"])
    assert ok.exit_code == 0, ok.output  # not measured with --no-pitch, so it cannot occur
    failed = runner.invoke(app, ["report", str(corpus), "--out", str(tmp_path / "b"), "--no-pitch", "--workers", "0",
                                 "--fail-on", "clipped,noisy"])
    assert failed.exit_code == 1
    assert "clipped (1 clip(s)), noisy (1 clip(s))" in failed.output
    assert (tmp_path / "b" / "report.html").is_file()


@pytest.mark.parametrize("args, message", [
    (["--fail-on", "clipping"], "unknown flag 'clipping'"),
    (["--trainer", "rvc2"], "unknown trainer 'rvc2'"),
    (["--set", "min_snr=3"], "unknown threshold 'min_snr'"),
    (["--set", "min_snr_db=loud"], "expected a number"),
])
def test_usage_errors_exit_2_before_anything_is_written(planted, tmp_path, args, message):
    root, _, _ = planted
    result = runner.invoke(app, ["report", str(root / "corpus"), "--out", str(tmp_path / "r"), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "r").exists()


def test_an_unreadable_file_is_listed_and_the_others_are_measured(tmp_path):
    write(tmp_path / "c" / "s" / "good.wav", sung(2.0))
    (tmp_path / "c" / "s" / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" * 10)
    result = runner.invoke(app, ["report", str(tmp_path / "c"), "--out", str(tmp_path / "r"), "--workers", "1"])
    assert result.exit_code == 1, result.output
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert [c["uid"] for c in report["clips"]] == ["s/good"]
    [failure] = report["failures"]
    assert failure["path"].endswith("broken.wav") and failure["reason"]


@pytest.mark.parametrize("workers", [0, 1])
def test_progress_moves_within_a_file(tmp_path, monkeypatch, workers):
    from svcprep.report import run

    updates: list[float] = []

    class Recorder:
        def __init__(self, total_seconds: float) -> None:
            pass

        def update(self, seconds: float) -> None:
            updates.append(seconds)

        def close(self) -> None:
            pass

    monkeypatch.setattr(run, "Progress", Recorder)
    write(tmp_path / "c" / "s" / "take.wav", sung(25.0))
    run.write_report(tmp_path / "c", tmp_path / "r", thresholds=Thresholds(), with_pitch=False, workers=workers)
    assert len(updates) >= 3  # a block at a time (10 s), not the file at once
    assert sum(updates) == pytest.approx(25.0)


def test_a_sliced_tree_is_reported_as_its_trainer_reads_it(tmp_path):
    """After: the pieces an output tree stores, with their singer."""
    take = np.concatenate([sung(3.0, 220.0, seed=1, phrase_seconds=3.0, pause_seconds=0.0),
                           np.zeros(SAMPLE_RATE), sung(3.0, 330.0, seed=2, phrase_seconds=3.0, pause_seconds=0.0)])
    write(tmp_path / "c" / "carol" / "take.wav", take)
    sliced = runner.invoke(app, ["slice", str(tmp_path / "c"), "--out", str(tmp_path / "pieces"),
                                 "--set", "slice.min_length_ms=1000", "--num-workers", "0"])
    assert sliced.exit_code == 0, sliced.output
    pieces = [json.loads(line) for line in (tmp_path / "pieces" / "pieces.jsonl").read_text().splitlines()]
    result = runner.invoke(app, ["report", str(tmp_path / "pieces"), "--out", str(tmp_path / "r"), "--workers", "0"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["source"]["kind"] == "tree"
    assert sorted(c["uid"] for c in report["clips"]) == sorted(p["uid"] for p in pieces)
    assert {c["singer"] for c in report["clips"]} == {"carol"}
    for clip, piece in zip(sorted(report["clips"], key=lambda c: c["uid"]), sorted(pieces, key=lambda p: p["uid"]),
                           strict=True):
        assert clip["seconds"] == pytest.approx(sf.info(str(tmp_path / "pieces" / piece["path"])).duration, abs=1e-4)


# -- the page in a browser -----------------------------------------------------------------------------------------
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess:
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    assert executable, "Chromium is missing: `make test` installs it (apt-get install chromium)"
    return subprocess.run([executable, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr",
                           "--v=0", *args, page.as_uri()], capture_output=True, text=True, timeout=120)


def html_tag(dom: str) -> str:
    """The page's ``<html ...>`` tag as the browser left it (where the page marks itself ready, or its errors)."""
    start = dom.index("<html")
    return dom[start: dom.index(">", start) + 1]


def console_lines(run: subprocess.CompletedProcess) -> list[str]:
    return [line for line in run.stderr.splitlines() if ":CONSOLE" in line]


def test_the_page_loads_without_error_sorts_and_draws_its_pictures(planted, tmp_path):
    root, _, report = planted
    page = root / "report" / "report.html"
    html = page.read_text()
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in html
    dom = chromium(page, tmp_path / "p1", "--dump-dom")
    assert 'data-ready="yes"' in html_tag(dom.stdout) and "data-errors" not in html_tag(dom.stdout)
    assert console_lines(dom) == []
    assert dom.stdout.count("<audio") == report["totals"]["flagged_clips"]

    # The same page with a broken script: both ways of seeing an error see it (the checks above can fail).
    broken = tmp_path / "broken.html"
    broken.write_text(html.replace("</body>", "<script>undefinedFunction();</script></body>"))
    bad = chromium(broken, tmp_path / "p2", "--dump-dom")
    assert "data-errors" in html_tag(bad.stdout) and console_lines(bad)

    # Clicking a column sorts the flagged clips by it.
    sorting = tmp_path / "sorting.html"
    sorting.write_text(html.replace("</body>", "<script>document.querySelectorAll('#flagged th')[3].click();"
                                    "document.documentElement.setAttribute('data-order', Array.prototype.map.call("
                                    "document.querySelectorAll('#flagged tbody tr'), function(r){return "
                                    "r.cells[0].textContent;}).join(','));</script></body>"))
    sorted_dom = chromium(sorting, tmp_path / "p3", "--dump-dom").stdout
    flagged = sorted((c for c in report["clips"] if c["flags"]), key=lambda c: c["seconds"])
    assert f'data-order="{",".join(c["uid"] for c in flagged)}"' in html_tag(sorted_dom)

    shot = tmp_path / "shot.png"
    chromium(page, tmp_path / "p4", f"--screenshot={shot}", "--window-size=1200,4000", "--hide-scrollbars")
    import matplotlib.image

    pixels = (matplotlib.image.imread(str(shot))[..., :3] * 255).round()

    def count(color: str) -> int:
        rgb = np.array([int(color[i:i + 2], 16) for i in (1, 3, 5)])
        return int(np.all(np.abs(pixels - rgb) <= 10, axis=-1).sum())

    assert count(BAR) > 2000  # minutes bars and F0 histograms
    assert count("#ffffff") < pixels.shape[0] * pixels.shape[1]  # not a blank page
    red = np.all(np.abs(pixels - np.array([219, 99, 99])) <= 40, axis=-1).sum()  # flagged points (80 % opaque)
    assert red > 9 * 20, FLAGGED
