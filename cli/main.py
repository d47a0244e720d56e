"""The ``svcprep`` command. Each command imports its heavy dependencies only when it runs."""

from __future__ import annotations

import typer

from svcprep import __version__
from svcprep.cli.align_cmd import align
from svcprep.cli.dataset_cmds import pitch, plot, slice_takes, stats, verify
from svcprep.cli.hops import hops
from svcprep.cli.pipeline_cmds import extract, mel, run
from svcprep.cli.report_cmd import report
from svcprep.cli.separate_cmd import separate
from svcprep.recipes import RECIPES

TRAINERS = ", ".join(name for name in RECIPES if name != "pieces")
ABOUT = ("Prepare singing-voice-conversion training data: mels, content features and pitch on each model's exact "
         f"frame grid, written as the trees the trainers read ({TRAINERS}).")
app = typer.Typer(
    name="svcprep",
    help=ABOUT,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# One line each in `svcprep --help`; each command's own --help says the rest.
COMMANDS = {
    "run": (run, "The trainers' trees, several from one pass over the corpus."),
    "mel": (mel, "Log-mels (and energy) on a preset's grid."),
    "extract": (extract, "Content features (Whisper, ContentVec, ...) aligned to the mels."),
    "pitch": (pitch, "F0 and voicing on mel frames (parselmouth, WORLD, FCPE, RMVPE)."),
    "separate": (separate, "Vocals out of songs, reverb out of vocals (BS-/Mel-Band RoFormer)."),
    "report": (report, "Quality, minutes and sung range of a corpus, before training."),
    "slice": (slice_takes, "Cut long takes at their silences into pieces and a manifest."),
    "stats": (stats, "Amphion's dataset statistics from finished mels and pitch."),
    "verify": (verify, "Check an output tree against its records and each trainer's rules."),
    "plot": (plot, "Draw one utterance's mel, F0 and features on one frame axis."),
    "hops": (hops, "A model's frame hop, related exactly to the mel grid."),
    "align": (align, "Align feature files you already have to their mels' frame counts."),
}
for name, (command, summary) in COMMANDS.items():
    app.command(name=name, short_help=summary)(command)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"svcprep {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Prepare singing-voice-conversion training data (see ABOUT)."""


def main() -> None:
    app()
