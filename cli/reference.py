"""The CLI reference (``docs/cli.md``), generated from the commands themselves so that it cannot drift.

``python -m svcprep.cli.reference > docs/cli.md``; a test compares the file with this output.
"""

from __future__ import annotations

import inspect

import typer

from svcprep.cli.main import app


def _option_row(param) -> str:
    names = ", ".join(f"`{n}`" for n in (*param.opts, *param.secondary_opts))
    help_text = " ".join((getattr(param, "help", None) or "").split()).replace("|", "\\|")
    default = param.default
    shown = "" if default in (None, False, (), []) or callable(default) else f" (default: `{default}`)"
    required = " **required**" if param.required else ""
    return f"| {names} | {help_text}{shown}{required} |"


def cli_reference_markdown() -> str:
    group = typer.main.get_command(app)
    lines = ["# CLI reference", "", "Generated from the commands (`python -m svcprep.cli.reference`); do not edit.", ""]
    for name, command in group.commands.items():
        lines += [f"## `svcprep {name}`", "", inspect.cleandoc(command.help or ""), ""]
        arguments = [p for p in command.params if p.param_type_name == "argument"]
        if arguments:
            lines.append("Arguments: " + ", ".join(f"`{a.name.upper()}`" for a in arguments) + ".")
            lines.append("")
        options = [p for p in command.params if p.param_type_name == "option" and p.name != "help"]
        if options:
            lines += ["| option | meaning |", "|---|---|"] + [_option_row(p) for p in options] + [""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(cli_reference_markdown(), end="")
