"""The ``svcprep`` command. Each command imports its heavy dependencies only when it runs."""

from __future__ import annotations

import typer

from svcprep import __version__
from svcprep.cli.align_cmd import align
from svcprep.cli.dataset_cmds import pitch, plot, slice_takes, stats, verify
from svcprep.cli.hops import hops
from svcprep.cli.pipeline_cmds import extract, mel, run

app = typer.Typer(
    name="svcprep",
    help="Content features for singing-voice-conversion training, aligned to the exact mel frame grid.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command()(hops)
app.command()(align)
app.command()(mel)
app.command()(extract)
app.command()(run)
app.command()(pitch)
app.command()(stats)
app.command()(verify)
app.command()(plot)
app.command(name="slice")(slice_takes)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"svcprep {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Content features for singing-voice-conversion training, aligned to the exact mel frame grid."""


def main() -> None:
    app()
