"""The demo's trees (Amphion, so-vits-svc, DDSP-SVC, RVC from a sliced take) are the files svcprep 0.2.0 wrote:
every file present, none new, byte-identical on the CPU that recorded them (`fixtures/demo_trees.json`, made with
``python -m tests.tree_signature``), and on another CPU equal in dtype, shape and values to float32 rounding.
A change of layout, naming, slicing, split, dtype or arithmetic fails here."""

import json
import subprocess
import sys
from pathlib import Path

from tests.tree_signature import compare, signature

EXPECTED = Path(__file__).parent / "fixtures" / "demo_trees.json"


def test_the_demo_trees_equal_the_recorded_ones(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "svcprep.demo", "--out", str(tmp_path / "demo")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    expected = json.loads(EXPECTED.read_text())
    problems, identical = compare(expected, signature(tmp_path / "demo"))
    assert not problems, "\n".join(problems[:20])
    print(f"{identical} of {len(expected)} files byte-identical")
