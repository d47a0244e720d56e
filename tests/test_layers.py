"""Imports sit at the top of a module; an import of svcprep's own code inside a function says why it is lazy
(``# lazy: <reason>``: torch kept off start-up, ``import svcprep`` kept cheap). The layers and cycles themselves
are import-linter contracts (``make lint``); this holds the part a contract cannot see."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("svcprep", "cli", "extractors", "align")


def lazy_internal_imports():
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            text = path.read_text()
            lines = text.splitlines()
            for function in ast.walk(ast.parse(text)):
                if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                for node in ast.walk(function):
                    module = node.module if isinstance(node, ast.ImportFrom) else \
                        node.names[0].name if isinstance(node, ast.Import) else None
                    if module and module.startswith("svcprep"):
                        yield f"{path.relative_to(ROOT)}:{node.lineno}", lines[node.lineno - 1]


def test_every_lazy_import_of_svcprep_code_says_why():
    found = list(lazy_internal_imports())
    unexplained = [where for where, line in found if "# lazy: " not in line]
    assert found, "the walk found no lazy import at all: it is looking in the wrong place"
    assert not unexplained, f"imports inside functions without '# lazy: <reason>': {unexplained}"


def test_the_command_line_and_the_corpus_scan_import_no_torch():
    code = ("import sys, svcprep.cli.main, svcprep.corpus.scan, svcprep.recipes, svcprep.verify; "
            "print('torch' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT.parent)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
