"""The guide runs: every `$ svcprep ...` line and Python block in docs/ (in order, from a dir where the demo ran),
shell and YAML examples parse, and docs/cli.md equals the reference generated from the commands."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from svcprep.cli.reference import cli_reference_markdown

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
ORDER = ["quickstart.md", "hops.md", "alignment.md", "pitch.md", "amphion.md", "so-vits-svc.md", "ddsp-svc.md",
         "rvc.md", "applio.md", "so-vits-svc-fork.md", "rift-svc.md", "seed-vc.md", "slicing.md", "separation.md",
         "report.md", "long-files.md", "python.md", "scaling.md"]
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.S)


def blocks(name):
    return BLOCK.findall((DOCS / name).read_text())


def test_every_guide_page_is_listed():
    assert sorted(ORDER + ["README.md", "cli.md"]) == sorted(p.name for p in DOCS.glob("*.md"))


def test_cli_reference_is_in_sync():
    assert (DOCS / "cli.md").read_text() == cli_reference_markdown(), \
        "regenerate: python -m svcprep.cli.reference > docs/cli.md"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    root = tmp_path_factory.mktemp("guide")
    proc = subprocess.run([sys.executable, "-m", "svcprep.demo", "--out", "demo_out"], cwd=root, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root


@pytest.mark.parametrize("page", ORDER)
def test_guide_examples_run(sandbox, page, monkeypatch):
    """svcprep commands run in-process (the CLI app itself, one import for all), from the sandbox dir."""
    from typer.testing import CliRunner

    from svcprep.cli.main import app

    monkeypatch.chdir(sandbox)
    ran = 0
    for language, body in blocks(page):
        if language == "console":
            for line in body.splitlines():
                if not line.startswith("$ "):
                    continue
                words = shlex.split(line[2:])
                if words[0] == "svcprep":
                    result = CliRunner().invoke(app, words[1:])
                    assert result.exit_code == 0, f"{page}: {line}\n{result.output}"
                else:  # python -m svcprep.demo: already run by the fixture, run again as written
                    proc = subprocess.run([sys.executable, *words[1:]], capture_output=True, text=True)
                    assert proc.returncode == 0, f"{page}: {line}\n{proc.stdout}{proc.stderr}"
                ran += 1
        elif language == "python":
            exec(compile(body, f"{page}:python", "exec"), {"__name__": "__docs__"})  # noqa: S102
            ran += 1
        elif language == "bash":
            assert subprocess.run(["bash", "-n"], input=body, text=True).returncode == 0, f"{page}: bash syntax"
            ran += 1
        elif language == "yaml":
            assert isinstance(yaml.safe_load(body), dict)
            ran += 1
    assert ran > 0
