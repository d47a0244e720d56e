"""Pitch against signals with known F0; Amphion's grid, mels, energy and statistics against an independent
implementation of Amphion's path (bench/amphion_reference.py, on librosa-loaded audio as Amphion loads it)."""

import json

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from bench.amphion_reference import (
    amphion_align_length,
    amphion_energy,
    amphion_load,
    amphion_mel,
    amphion_pitch,
    amphion_pitch_statistics,
)
from svcprep.audio.presets import load_preset
from svcprep.cli.main import app
from svcprep.demo.synthetic import known_f0, known_pitch_clip, known_voicing
from svcprep.pitch.settings import PitchSettings
from svcprep.pitch.tracking import pitch_on_mel_grid

PRESET = load_preset("amphion-svc-24k")
METHODS = ("parselmouth", "dio", "harvest")
GAPS_SECONDS = ((1.4, 1.7), (2.7, 3.0))  # silent gaps; the clip is 3 s
AWAY_SECONDS = 0.06  # frames this close to a voicing change are not scored for F0 error


def true_f0(t):
    return known_f0(t)


def voiced_at(t):
    return known_voicing(t, GAPS_SECONDS)


def sung_clip(sample_rate, seconds=3.0, seed=0):
    return known_pitch_clip(sample_rate, seconds, tuple(g for g in GAPS_SECONDS if g[0] < seconds), seed)


def scored(centres):
    changes = np.array([0.0, *[edge for gap in GAPS_SECONDS for edge in gap]])
    return np.min(np.abs(centres[:, None] - changes[None]), axis=1) > AWAY_SECONDS


@pytest.fixture(scope="module")
def clip():
    return sung_clip(PRESET.sample_rate)


@pytest.mark.parametrize("method", METHODS)
def test_pitch_follows_a_known_glide_and_vibrato_at_mel_frame_centres(clip, method):
    num_frames = PRESET.num_frames(len(clip))
    f0 = pitch_on_mel_grid(clip, PRESET, num_frames, PitchSettings(method=method))
    assert f0.shape == (num_frames,) and f0.dtype == np.float32
    centres = PRESET.frame_centre_seconds(num_frames)
    np.testing.assert_allclose(centres[:2], [128 / 24000, 384 / 24000])  # (i + 1/2) * hop for this preset
    truth_voiced = voiced_at(centres)
    away = scored(centres)
    both = truth_voiced & away & (f0 > 0)
    cents = 1200 * np.abs(np.log2(f0[both] / true_f0(centres[both])))
    assert both.sum() > 0.7 * (truth_voiced & away).sum()
    assert np.median(cents) <= 10, np.median(cents)
    # Harvest holds voicing ~90 ms into silence after each offset (a trait of the tracker): its voicing is
    # scored away from voicing changes; the others over every frame.
    frames = away if method == "harvest" else np.ones(num_frames, bool)
    assert np.mean((f0 > 0)[frames] == truth_voiced[frames]) >= 0.95


def test_amphion_grid_is_late_by_its_first_frame_offset_and_exact_grid_is_not(clip):
    """Amphion's parselmouth frame i sits ~31 ms in: on vibrato its error is far above the exact grid's."""
    num_frames = PRESET.num_frames(len(clip))
    centres = PRESET.frame_centre_seconds(num_frames)
    mask = voiced_at(centres) & scored(centres)
    errors = {}
    for grid in ("exact", "amphion"):
        f0 = pitch_on_mel_grid(clip, PRESET, num_frames, PitchSettings(grid=grid))
        ok = mask & (f0 > 0)
        errors[grid] = np.median(1200 * np.abs(np.log2(f0[ok] / true_f0(centres[ok]))))
    assert errors["amphion"] > 30 and errors["exact"] < 10, errors


@pytest.mark.parametrize("num_samples", [1440, 1441, 24000 - 1, 24000, 24000 + 255, 24000 + 256, 50000])
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("grid", ["exact", "amphion"])
def test_length_is_the_mel_frame_count(num_samples, method, grid):
    wav = sung_clip(PRESET.sample_rate, seconds=num_samples / PRESET.sample_rate + 0.01)[:num_samples]
    num_frames = PRESET.num_frames(num_samples)
    assert pitch_on_mel_grid(wav, PRESET, num_frames, PitchSettings(method=method, grid=grid)).shape == (num_frames,)


def test_too_short_for_parselmouth_is_a_clear_error():
    from svcprep.errors import SvcprepError

    with pytest.raises(SvcprepError, match="shorter than parselmouth's analysis window"):
        pitch_on_mel_grid(np.zeros(1000, np.float32), PRESET, 3, PitchSettings())


# -- through the pipeline, against Amphion's path on the same files ------------------------------------------
RATES = (16000, 22050, 44100, 48000)


@pytest.fixture(scope="module")
def amphion_dataset(tmp_path_factory):
    """An Amphion dataset dir: train.json/test.json over sung clips at four rates, two singers."""
    root = tmp_path_factory.mktemp("amphion") / "opencpop"
    wavs = root / "wavs"
    wavs.mkdir(parents=True)
    items = []
    for i, rate in enumerate(RATES):
        path = wavs / f"clip{i}.wav"
        sf.write(path, sung_clip(rate, seconds=1.3 + 0.21 * i, seed=i), rate)
        items.append({"Dataset": "opencpop", "Singer": f"singer{i % 2}", "Uid": f"clip{i}", "Path": str(path),
                      "Duration": 1.3 + 0.21 * i})
    (root / "train.json").write_text(json.dumps(items[:3]))
    (root / "test.json").write_text(json.dumps(items[3:]))
    return root, items


def run_cli(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("method", ["parselmouth", "dio"])
def test_amphion_grid_reproduces_amphion_bit_for_bit(amphion_dataset, tmp_path, method):
    root, items = amphion_dataset
    out = tmp_path / "out"
    run_cli("mel", root, "--out", out, "--num-workers", "0")
    run_cli("pitch", root, "--out", out, "--grid", "amphion", "--method", method, "--num-workers", "0")
    assert items
    for item in items:
        audio = amphion_load(item["Path"], 24000)
        mel_frames = np.load(out / "mels" / f"{item['Uid']}.npy").shape[1]
        expected = amphion_align_length(amphion_pitch(audio, 24000, 256, 50, 1100, method), mel_frames)
        got = np.load(out / "pitches" / f"{item['Uid']}.npy")
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(np.load(out / "uvs" / f"{item['Uid']}.npy"), expected != 0)


@pytest.fixture(scope="module")
def full_run(amphion_dataset):
    root, items = amphion_dataset
    run_cli("mel", root, "--energy", "--num-workers", "0")
    run_cli("pitch", root, "--num-workers", "0")
    run_cli("stats", root)
    return root, items


def test_mels_equal_amphion_on_librosa_loaded_audio_at_every_rate(full_run):
    """Amphion loads with librosa (ceil length: 44.1 kHz → one more sample than soxr alone); so do we."""
    root, items = full_run
    p = PRESET
    assert items
    for item in items:
        audio = amphion_load(item["Path"], p.sample_rate)
        expected = amphion_mel(__import__("torch").from_numpy(audio)[None], p.n_fft, p.n_mels, p.sample_rate,
                               p.hop_length, p.win_length, p.fmin, p.fmax)[0].numpy()
        got = np.load(root / "mels" / f"{item['Uid']}.npy")
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)  # every frame, the last ones included


def test_energy_is_amphions_from_mel(full_run):
    root, items = full_run
    assert items
    for item in items:
        mel = np.load(root / "mels" / f"{item['Uid']}.npy")
        got = np.load(root / "energys" / f"{item['Uid']}.npy")
        np.testing.assert_allclose(got, amphion_energy(mel), rtol=1e-6)
        np.testing.assert_allclose(got, np.sqrt((np.exp(mel.astype(np.float64)) ** 2).sum(0)), rtol=1e-5)


def test_statistics_equal_an_independent_computation(full_run):
    root, items = full_run
    by_singer = {}
    for item in items:
        by_singer.setdefault(f"opencpop_{item['Singer']}", []).append(np.load(root / "pitches" / f"{item['Uid']}.npy"))
    expected = amphion_pitch_statistics(by_singer)
    got = json.loads((root / "pitches" / "statistics.json").read_text())
    assert set(got) == set(expected) == {"opencpop_singer0", "opencpop_singer1"}
    for singer, parts in expected.items():
        for part, values in parts.items():
            for key, value in values.items():
                assert got[singer][part][key] == pytest.approx(float(value), rel=1e-12), (singer, part, key)
    mels = [np.load(root / "mels" / f"{item['Uid']}.npy") for item in items]
    np.testing.assert_array_equal(np.load(root / "mel_min_max_stats" / "mel_min.npy"),
                                  np.min([m.min(axis=1) for m in mels], axis=0))
    np.testing.assert_array_equal(np.load(root / "mel_min_max_stats" / "mel_max.npy"),
                                  np.max([m.max(axis=1) for m in mels], axis=0))
    singers = json.loads((root / "singers.json").read_text())
    assert singers == {"opencpop_singer0": 0, "opencpop_singer1": 1}
    utt2singer = dict(line.split("\t") for line in (root / "utt2singer").read_text().splitlines())
    assert utt2singer == {f"opencpop_{it['Uid']}": f"opencpop_{it['Singer']}" for it in items}


def test_feature_dirs_hold_one_file_per_utterance(full_run):
    """Amphion re-extracts a feature when its dir's file count differs from the metadata's."""
    root, items = full_run
    for name in ("mels", "energys", "uvs"):
        assert sorted(p.name for p in (root / name).iterdir()) == sorted(f"{it['Uid']}.npy" for it in items)
    assert sorted(p.name for p in (root / "pitches").iterdir()) == sorted(
        [f"{it['Uid']}.npy" for it in items] + ["statistics.json"])


def test_missing_pitch_package_names_the_extra(tmp_path, monkeypatch, amphion_dataset):
    import builtins

    real_import = builtins.__import__

    def no_parselmouth(name, *args, **kwargs):
        if name == "parselmouth":
            raise ImportError("No module named 'parselmouth'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_parselmouth)
    result = CliRunner().invoke(app, ["pitch", str(amphion_dataset[0]), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "svcprep[pitch]" in result.output
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("kind", ["directory", "manifest"])
def test_singers_of_audio_dirs_and_manifests(tmp_path, kind):
    """Audio dir: the first path component is the singer; manifest: its optional singer/dataset columns."""
    corpus = tmp_path / "choir"
    for singer in ("alto", "bass"):
        (corpus / singer).mkdir(parents=True)
        sf.write(corpus / singer / "a.wav", sung_clip(24000, seconds=0.5), 24000)
    source = corpus
    if kind == "manifest":
        source = tmp_path / "list.csv"
        source.write_text("uid,path,singer,dataset\n" + "".join(
            f"{s}_a,{corpus / s / 'a.wav'},{s.upper()},choir\n" for s in ("alto", "bass")))
    out = tmp_path / "out"
    run_cli("mel", source, "--out", out, "--num-workers", "0")
    run_cli("stats", out, "--corpus", source)
    singers = json.loads((out / "singers.json").read_text())
    expected = ["choir_alto", "choir_bass"] if kind == "directory" else ["choir_ALTO", "choir_BASS"]
    assert singers == {key: i for i, key in enumerate(expected)}
    assert not (out / "pitches").exists()  # no pitch was computed: no pitch statistics
