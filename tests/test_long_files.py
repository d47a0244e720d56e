"""Files of any length: a long file computed a window at a time writes what the whole-file computation writes.

The mel and energy bit for bit; parselmouth's F0 exactly, across a loud and a quiet window (its voicing is
relative to the peak of what it reads); content features equal the extractor's own chunk plan run one chunk per
forward, aligned by the same taps. The pieces: the stream reader equals the whole-file decode and resampling,
``align_rows`` equals a slice of ``align_features``, a file grown in place equals ``np.save``. A disk too small
fails at once with nothing left; progress moves within the file."""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from svcprep.align.grid import FrameGrid
from svcprep.align.methods import METHODS, align_features, align_rows, source_frames_read
from svcprep.audio.io import decode, resample, to_channels
from svcprep.audio.stream import StreamReader
from svcprep.cli.main import app
from svcprep.fileio import GrowingNpy
from svcprep.outputs import windows
from tests.report_corpus import sung

runner = CliRunner()
RATE = 44100


def cli(*args: str) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """One 100 s stereo take, loud for 50 s then 20 dB quieter (each part in windows of its own), and a 5 s
    clip that stays on the whole-file path."""
    root = tmp_path_factory.mktemp("long") / "corpus"
    (root / "s").mkdir(parents=True)
    take = np.concatenate([sung(50.0, 220.0, seed=1), 0.1 * sung(50.0, 330.0, seed=2)])
    sf.write(root / "s" / "take.wav", np.stack([take, np.roll(take, 11)], axis=1), RATE, subtype="PCM_16")
    sf.write(root / "s" / "short.wav", sung(5.0, 262.0, seed=3), RATE, subtype="PCM_16")
    return root


@pytest.fixture
def small_windows(monkeypatch):
    """Windows small enough that a 100 s file has several of each kind (the mel's stay on its 4096-frame chunks)."""
    monkeypatch.setattr(windows, "MEL_WINDOW_FRAMES", windows.MEL_CHUNK_FRAMES)
    monkeypatch.setattr(windows, "PITCH_WINDOW_SECONDS", 30.0)
    monkeypatch.setattr(windows, "PITCH_CONTEXT_SECONDS", 5.0)
    monkeypatch.setattr(windows, "FEATURE_WINDOW_FRAMES", 1000)


def files_of(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.npy"))
            if "_svcprep" not in p.parts}


def test_mel_and_energy_of_a_long_file_are_the_whole_file_bits(tmp_path, corpus, small_windows):
    streamed = cli("mel", corpus, "-o", tmp_path / "a", "--energy", "--stream-seconds", 20, "--num-workers", 0)
    assert "1 file(s) over 20 s computed a window at a time" in streamed
    whole = cli("mel", corpus, "-o", tmp_path / "b", "--energy", "--stream-seconds", 1e6, "--num-workers", 0)
    assert "window at a time" not in whole
    a, b = files_of(tmp_path / "a"), files_of(tmp_path / "b")
    assert set(a) == {"mels/s/take.npy", "mels/s/short.npy", "energys/s/take.npy", "energys/s/short.npy"}
    assert a == b
    assert np.load(tmp_path / "a" / "mels" / "s" / "take.npy").shape[1] > 2 * windows.MEL_CHUNK_FRAMES
    verify = runner.invoke(app, ["verify", str(tmp_path / "a")])
    assert verify.exit_code == 0, verify.output  # the done-lists hold the sha256 of the files grown in place
    rerun = cli("mel", corpus, "-o", tmp_path / "a", "--energy", "--stream-seconds", 20, "--num-workers", 0)
    assert "skipped 2" in rerun


def test_parselmouth_f0_of_a_long_file_equals_the_whole_file_across_loud_and_quiet_windows(tmp_path, corpus,
                                                                                          small_windows):
    cli("pitch", corpus, "-o", tmp_path / "a", "--stream-seconds", 20, "--num-workers", 0)
    cli("pitch", corpus, "-o", tmp_path / "b", "--stream-seconds", 1e6, "--num-workers", 0)
    a, b = files_of(tmp_path / "a"), files_of(tmp_path / "b")
    assert set(a) == {"pitches/s/take.npy", "pitches/s/short.npy", "uvs/s/take.npy", "uvs/s/short.npy"}
    f0 = np.load(tmp_path / "b" / "pitches" / "s" / "take.npy")
    assert (f0 > 0).mean() > 0.5 and a == b


@pytest.mark.parametrize("method, model", [("fcpe", None), ("rmvpe", "rmvpe_rvc_small/rmvpe.pt")])
def test_neural_f0_of_a_long_file_equals_the_whole_file(tmp_path, corpus, small_windows, method, model):
    """The tracker's own windows (FCPE with the whole file's group statistics from a first pass), one per
    forward as a CPU run does, on a mel computed chunk by chunk from the stream."""
    args = ["--method", method, "--num-workers", 0, "--device", "cpu"]
    if model:
        args += ["--model", Path(__file__).parent / "fixtures" / model]
    streamed = cli("pitch", corpus, "-o", tmp_path / "a", *args, "--stream-seconds", 20)
    assert "computed a window at a time" in streamed
    cli("pitch", corpus, "-o", tmp_path / "b", *args, "--stream-seconds", 1e6)
    a, b = files_of(tmp_path / "a"), files_of(tmp_path / "b")
    assert set(a) == {"pitches/s/take.npy", "pitches/s/short.npy", "uvs/s/take.npy", "uvs/s/short.npy"}
    assert a == b


def test_the_quiet_half_tracked_alone_differs_so_the_file_peak_matters(corpus):
    """What the equality above rests on: Praat tracks the quiet half differently without the loud half's peak."""
    import parselmouth

    wav = resample(to_channels(decode(corpus / "s" / "take.wav"), 1), RATE, 24000)
    quiet = wav[60 * 24000: 80 * 24000].astype(np.float64)

    def track(x: np.ndarray) -> np.ndarray:
        return parselmouth.Sound(x, 24000).to_pitch_ac(time_step=256 / 24000, voicing_threshold=0.6, pitch_floor=50,
                                                       pitch_ceiling=1100).selected_array["frequency"]

    with_peak = quiet.copy()
    with_peak[0] = np.abs(wav).max()
    assert not np.array_equal(track(quiet)[20:-20], track(with_peak)[20:-20])


@pytest.mark.parametrize("name, options", [("hubert", {"chunk_seconds": 8, "overlap_seconds": 1}), ("whisper", {})])
def test_content_features_of_a_long_file_follow_the_extractors_chunk_plan(tmp_path, corpus, small_windows,
                                                                          tiny_models_by_name, name, options):
    from svcprep import load_extractor

    path, _ = tiny_models_by_name[name]
    sets = [arg for key, value in options.items() for arg in ("--set", f"{name}.{key}={value}")]
    out = cli("extract", corpus, "-o", tmp_path / "a", "-e", name, "--model", f"{name}={path}", *sets,
              "--keep-native", "--num-workers", 0, "--stream-seconds", 20)
    assert "computed a window at a time" in out
    model = load_extractor(name, model=path, **options)
    model.max_batch_samples = 1  # one chunk per forward: the computation the stream runs
    rate, hop = model.spec.sample_rate, model.spec.hop_length
    wav = resample(to_channels(decode(corpus / "s" / "take.wav"), 1), RATE, rate)
    native = model.extract([wav])[0]
    assert len(model.plan([len(wav)])) >= 4
    np.testing.assert_array_equal(np.load(tmp_path / "a" / f"{name}_native" / "s" / "take.npy"), native)
    mel_frames = len(resample(to_channels(decode(corpus / "s" / "take.wav"), 1), RATE, 24000, "librosa")) // 256
    aligned = align_features(native, source_hop=hop, source_sample_rate=rate, target_hop=256,
                             target_sample_rate=24000, target_len=mel_frames, method="area")
    np.testing.assert_array_equal(np.load(tmp_path / "a" / name / "s" / "take.npy"), aligned)


def test_a_disk_too_small_for_a_long_file_fails_at_once_and_leaves_nothing(tmp_path, corpus, small_windows,
                                                                           monkeypatch):
    def full(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("os.posix_fallocate", full)
    result = runner.invoke(app, ["mel", str(corpus), "-o", str(tmp_path / "a"), "--stream-seconds", "20",
                                 "--num-workers", "0"])
    assert result.exit_code == 1
    assert "the output disk is full" in result.output and "mels/s/take.npy" in result.output
    assert not list((tmp_path / "a").rglob("*.npy")) and not list((tmp_path / "a").rglob("*.tmp"))
    done = list((tmp_path / "a").rglob("done*"))
    assert all("take" not in p.read_text() for p in done if p.is_file())


def test_progress_moves_within_a_long_file(tmp_path, corpus, small_windows, monkeypatch):
    updates: list[float] = []

    class Recorder:
        def __init__(self, total_seconds: float) -> None:
            self.total = total_seconds

        def update(self, seconds: float) -> None:
            updates.append(seconds)

        def close(self) -> None:
            pass

    monkeypatch.setattr("svcprep.pipeline.runner.Progress", Recorder)
    cli("mel", corpus, "-o", tmp_path / "a", "--stream-seconds", 20, "--num-workers", 0)
    long_file = updates[:-1]  # the 5 s clip comes last, in one update
    assert len(long_file) >= 3
    assert sum(long_file) == pytest.approx(100.0, abs=0.1)


def test_outputs_that_cannot_be_windowed_keep_the_whole_file_path(tmp_path, corpus, small_windows):
    out = cli("pitch", corpus, "-o", tmp_path / "a", "--method", "dio", "--stream-seconds", 20, "--num-workers", 0)
    assert "window at a time" not in out
    assert (tmp_path / "a" / "pitches" / "s" / "take.npy").is_file()


# -- the pieces ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rate, rule", [(16000, "soxr"), (24000, "librosa"), (44100, "soxr"), (22050, "librosa_vhq")])
def test_the_stream_reader_gives_the_whole_file_decode_and_resampling(tmp_path, rate, rule):
    rng = np.random.default_rng(rate)
    x = rng.normal(0.0, 0.1, (RATE * 7 + 17, 2)).astype(np.float32)
    sf.write(tmp_path / "x.wav", x, RATE, subtype="FLOAT")
    whole = resample(to_channels(decode(tmp_path / "x.wav"), 1), RATE, rate, rule)
    reader = StreamReader(tmp_path / "x.wav", rate, 1, rule, block_seconds=1.3)
    assert reader.num_samples == len(whole)
    position = 0
    while position < len(whole):
        start = max(reader._buffer_start, position - int(rng.integers(0, 3000)))  # overlapping reads
        end = position + int(rng.integers(1, 40000))
        np.testing.assert_array_equal(reader.read(start, end), whole[start:end])
        position = end


@settings(max_examples=150, deadline=None)
@given(source_hop=st.sampled_from([160, 256, 320, 441, 512, 960]),
       target_hop=st.sampled_from([128, 256, 300, 480, 512]),
       rates=st.sampled_from([(16000, 24000), (16000, 44100), (24000, 24000), (48000, 44100)]),
       seconds=st.floats(1.0, 20.0), cut=st.floats(0.0, 1.0), span=st.floats(0.0, 1.0),
       method=st.sampled_from(METHODS))
def test_align_rows_gives_the_rows_of_the_whole_alignment(source_hop, target_hop, rates, seconds, cut, span, method):
    source, target = FrameGrid(source_hop, rates[0]), FrameGrid(target_hop, rates[1])
    num_source = max(1, int(seconds * rates[0]) // source_hop)
    target_len = int(seconds * rates[1]) // target_hop
    if target_len == 0:
        return
    x = np.random.default_rng(num_source).normal(size=(num_source, 3)).astype(np.float32)
    whole = align_features(x, source_hop=source_hop, source_sample_rate=rates[0], target_hop=target_hop,
                           target_sample_rate=rates[1], target_len=target_len, method=method, tolerance=10**6)
    first = int(cut * (target_len - 1))
    rows = range(first, first + 1 + int(span * (target_len - 1 - first)))
    kwargs = dict(num_source_frames=num_source, source=source, target=target, target_len=target_len, method=method)
    low, high = source_frames_read(frames=rows, **kwargs)
    got = align_rows(x[low: high + 1], low, frames=rows, **kwargs)
    np.testing.assert_array_equal(got, whole[rows.start: rows.stop])


@pytest.mark.parametrize("shape, axis, dtype", [((1000, 7), 0, "float32"), ((80, 1000), 1, "float32"),
                                                ((1000,), 0, "bool"), ((1000,), 0, "float64")])
def test_a_file_grown_in_place_is_what_np_save_writes(tmp_path, shape, axis, dtype):
    import io

    value = np.random.default_rng(0).normal(size=shape)
    value = (value > 0.3) if dtype == "bool" else value.astype(dtype)
    grown = GrowingNpy(tmp_path / "out" / "x.npy", tmp_path / "tmp", shape, dtype, axis)
    for start in (666, 0, 333):  # any order
        grown.write(start, value[start:start + 333] if axis == 0 else value[:, start:start + 333])
    grown.write(999, value[999:] if axis == 0 else value[:, 999:])
    grown.commit()
    expected = io.BytesIO()
    np.save(expected, value)
    assert (tmp_path / "out" / "x.npy").read_bytes() == expected.getvalue()
    aborted = GrowingNpy(tmp_path / "out" / "y.npy", tmp_path / "tmp", shape, dtype, axis)
    aborted.abort()
    assert not (tmp_path / "out" / "y.npy").exists() and not list((tmp_path / "tmp").iterdir())


def test_records_of_a_streamed_run_say_the_same_settings(tmp_path, corpus, small_windows):
    """A rerun with the whole-file path does nothing: streaming is how, not what (the records do not differ)."""
    cli("mel", corpus, "-o", tmp_path / "a", "--stream-seconds", 20, "--num-workers", 0)
    rerun = cli("mel", corpus, "-o", tmp_path / "a", "--stream-seconds", 1e6, "--num-workers", 0)
    assert "skipped 2" in rerun
