"""The seams hold for a new kind written outside svcprep: a sink that keeps files in memory (one class plus one
line in SINKS) receives exactly the bytes the file sink writes; the ``stages:`` form of slicing equals ``slice:``;
ids of pieces are found from the records, never from their text (a corpus uid that looks like a piece's)."""

import hashlib
import io
import json
from pathlib import Path, PurePosixPath

import numpy as np
import pytest

from svcprep.corpus.entries import Span
from svcprep.corpus.slicing import SliceStage
from svcprep.corpus.stages import StageChain
from svcprep.demo.synthetic import known_pitch_clip, write_corpus
from svcprep.ids import EntryId
from svcprep.pipeline.config import read_run_config, run_config_from_files
from svcprep.pipeline.runner import run_pipeline
from svcprep.store.codecs import CODECS
from svcprep.store.sink import SINKS, Sink
from tests.conftest import amphion_config

STORED: dict[str, bytes] = {}  # what the memory sink holds, by key


class MemorySink(Sink):
    """Bytes in a dict, keyed by the naming's paths: what an object-store sink would upload."""

    kind = "memory"

    def _key(self, relative: PurePosixPath) -> str:
        return f"{self.root.name}/{relative}"

    def _put(self, key: str, encode) -> str:
        buffer = io.BytesIO()
        encode(buffer)
        STORED[key] = buffer.getvalue()
        return hashlib.sha256(STORED[key]).hexdigest()

    def _file_key(self, file, uid):
        return self._key(self.naming.relative_path(file.name, uid, CODECS[file.codec].suffix))

    def write(self, file, uid, value):
        return self._put(self._file_key(file, uid), lambda f: CODECS[file.codec].encode(value, f))

    def read(self, file, uid):
        raise NotImplementedError

    def header(self, file, uid):
        raise NotImplementedError

    def exists(self, file, uid):
        return self._file_key(file, uid) in STORED

    def sha256(self, file, uid):
        return hashlib.sha256(STORED[self._file_key(file, uid)]).hexdigest()

    def uids(self, file):
        return set()

    def describe(self, file, uid):
        return "mem://" + self._file_key(file, uid)

    def location(self, file, uid, *, relative=False):
        return self.describe(file, uid)

    def write_dataset_file(self, name, codec, value):
        return self._put(self._key(PurePosixPath(name)), lambda f: CODECS[codec].encode(value, f))

    def write_text(self, name, text):
        return self._put(self._key(PurePosixPath(name)), lambda f: f.write(text.encode()))

    def read_dataset_file(self, name, codec):
        raise NotImplementedError

    def read_text(self, name):
        return STORED[self._key(PurePosixPath(name))].decode()

    def has_dataset_file(self, name):
        return self._key(PurePosixPath(name)) in STORED

    def dataset_sha256(self, name):
        return hashlib.sha256(STORED[self._key(PurePosixPath(name))]).hexdigest()

    def dataset_location(self, name):
        return "mem://" + self._key(PurePosixPath(name))

    def located(self, location):
        return location.removeprefix("mem://") in STORED


def test_a_new_sink_is_one_class_and_one_line_and_gets_the_bytes_the_file_sink_writes(tmp_path, monkeypatch):
    write_corpus(tmp_path / "corpus")
    monkeypatch.setitem(SINKS, "memory", f"{__name__}:MemorySink")
    STORED.clear()
    settings = {"mels": True, "energy": True, "num_workers": 0}
    files = run_pipeline(amphion_config(tmp_path / "corpus", tmp_path / "files", **settings))
    memory = run_pipeline(amphion_config(tmp_path / "corpus", tmp_path / "memory", storage="memory", **settings))
    assert files.exit_code == memory.exit_code == 0 and memory.done == files.done > 0
    written = {p.relative_to(tmp_path / "files").as_posix(): p.read_bytes()
               for folder in ("mels", "energys") for p in (tmp_path / "files" / folder).rglob("*.npy")}
    assert {key.removeprefix("memory/"): value for key, value in STORED.items()} == written
    assert not list((tmp_path / "memory").rglob("*.npy"))  # nothing reached the disk but the bookkeeping
    STORED.clear()  # the done-lists now name files the memory lost: a rerun redoes them instead of trusting them
    again = run_pipeline(amphion_config(tmp_path / "corpus", tmp_path / "memory", storage="memory", **settings))
    assert again.done == files.done and again.skipped == 0


def write_take(path: Path, seconds: float = 12.0) -> None:
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, known_pitch_clip(16000, seconds, ((4.0, 5.0), (8.0, 9.0)), seed=3), 16000)


def test_the_stages_form_of_slicing_equals_the_slice_form(tmp_path):
    write_take(tmp_path / "takes" / "alice" / "t1.wav")
    trees = {}
    for form, value in (("slice", {"slice": "openvpi"}), ("stages", {"stages": [{"slice": "openvpi"}]})):
        config = {"recipe": "pieces", "corpus": str(tmp_path / "takes"), "out": str(tmp_path / form), **value}
        (tmp_path / f"{form}.yaml").write_text(json.dumps(config))
        summary = run_pipeline(run_config_from_files([read_run_config(str(tmp_path / f"{form}.yaml"))],
                                                     model_paths={}, options={}))
        assert summary.exit_code == 0 and summary.done >= 2
        trees[form] = {p.relative_to(tmp_path / form).as_posix(): p.read_bytes()
                       for p in (tmp_path / form / "pieces").rglob("*.wav")}
        provenance = list((tmp_path / form / ".svcprep" / "stages").glob("*/stages.json"))
        assert len(provenance) == 1 and json.loads(provenance[0].read_text())[0]["stage"] == "slice"
    assert trees["slice"] == trees["stages"] and len(trees["slice"]) >= 2


def test_slicing_twice_or_an_unknown_stage_is_a_usage_error(tmp_path):
    from svcprep.errors import ConfigError

    for value, expected in (({"slice": "rvc", "stages": [{"slice": "rvc"}]}, "give slicing once"),
                            ({"stages": [{"reverb": {}}]}, "unknown corpus stage 'reverb'; known: slice"),
                            ({"stages": {"slice": "rvc"}}, "expected a list of stages")):
        config = {"recipe": "pieces", "corpus": str(tmp_path), "out": str(tmp_path / "o"), **value}
        with pytest.raises(ConfigError, match=expected):
            run_config_from_files([(config, tmp_path, "x")], model_paths={}, options={})


def test_a_chain_gives_each_piece_its_index_and_span_and_a_whole_entry_keeps_its_id():
    from svcprep.audio.io import Audio
    from svcprep.audio.slicing import slice_settings_from

    rate = 16000
    take = known_pitch_clip(rate, 12.0, ((4.0, 5.0), (8.0, 9.0)), seed=3)
    chain = StageChain((SliceStage(slice_settings_from("openvpi")),))
    leaves = chain.apply(EntryId("alice/t1"), Audio(take[:, None], rate))
    assert len(leaves) >= 2
    for leaf in leaves:  # every piece is the take's samples over its span, named by the take and its index
        assert leaf.id.source == "alice/t1" and len(leaf.id.pieces) == 1
        assert str(leaf.id) == f"alice/t1/{leaf.id.index:05d}"
        assert isinstance(leaf.span, Span) and leaf.span.sample_rate == rate
        np.testing.assert_array_equal(leaf.audio.samples[:, 0], take[leaf.span.start:leaf.span.end])
    starts = [leaf.span.start for leaf in leaves]
    assert starts == sorted(starts) and [leaf.id.index for leaf in leaves] == sorted(leaf.id.index for leaf in leaves)


def test_file_names_map_back_to_their_entry_ids(tmp_path):
    """so-vits-svc names a piece ``<stem>_<5 digits>`` and RVC ``<stem>_<index>``: ``verify`` lists a tree by its file
    names, which must give back the ids the files were written for (a whole entry whose own name ends in digits
    stays whole)."""
    from svcprep.recipes.rvc import RvcNaming, rvc_stems
    from svcprep.recipes.sovits import SovitsNaming
    from svcprep.recipes.speakers import name_table

    root = tmp_path / "corpus"
    write_corpus(root)
    (root / "singer_a" / "phrase_01.wav").rename(root / "singer_a" / "take_00007.wav")
    from svcprep.corpus.scan import load_corpus

    corpus = load_corpus(root)
    naming = SovitsNaming(name_table(corpus, "so-vits-svc"), "44k")
    whole = EntryId("singer_a/take_00007")
    relative = naming.relative_path("wav", whole, ".wav")
    assert relative == PurePosixPath("dataset/44k/singer_a/take_00007.wav")
    assert naming.uid_of("wav", relative, ".wav") == whole
    piece = EntryId("singer_a/phrase_02", (3,))
    assert naming.relative_path("wav", piece, ".wav") == PurePosixPath("dataset/44k/singer_a/phrase_02_00003.wav")
    assert naming.uid_of("wav", naming.relative_path("wav", piece, ".wav"), ".wav") == piece
    rvc = RvcNaming(rvc_stems(corpus), "3_feature768")
    assert rvc.relative_path("gt", piece, ".wav") == PurePosixPath("0_gt_wavs/singer_a_phrase_02_3.wav")
    for id in (piece, whole):
        assert rvc.uid_of("gt", rvc.relative_path("gt", id, ".wav"), ".wav") == id
