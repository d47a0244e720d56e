"""Recipes: each turns a run's outputs into one project's on-disk tree (names, dtypes, grids, file lists,
statistics, config fragment). A recipe is one class (:class:`~svcprep.recipes.base.Recipe`) in a module here, with
at most one helper module ``<module>_files.py`` beside it for its file names and tree checks, plus one line in
:data:`RECIPES`; several recipes in one run share one decode and one forward per model.

Registered lazily (module:class strings, the lazy import for start-up time), so listing recipes imports no model
code.
"""

from __future__ import annotations

import difflib
import importlib
from importlib import resources
from pathlib import Path
from typing import Any

from svcprep.errors import ConfigError

RECIPES = {
    "amphion": "svcprep.recipes.amphion:AmphionRecipe",
    "so-vits-svc": "svcprep.recipes.sovits:SovitsRecipe",
    "so-vits-svc-fork": "svcprep.recipes.sovits_fork:SovitsForkRecipe",
    "ddsp-svc": "svcprep.recipes.ddsp:DdspRecipe",
    "rvc": "svcprep.recipes.rvc:RvcRecipe",
    "applio": "svcprep.recipes.applio:ApplioRecipe",
    "seed-vc": "svcprep.recipes.seed_vc:SeedVcRecipe",
    "rift-svc": "svcprep.recipes.rift_svc:RiftSvcRecipe",
    "pieces": "svcprep.recipes.pieces:PiecesRecipe",
}


def recipe_from_dict(data: dict[str, Any], base: Path, *, model_paths: dict[str, str], options: dict[str, dict],
                     source: str) -> Any:
    """The recipe a run config describes (``recipe:``; default ``amphion``), its settings checked."""
    name = data.get("recipe", "amphion")
    if not isinstance(name, str):
        raise ConfigError(f"{source}: recipe must be a name ({', '.join(RECIPES)}), got a {type(name).__name__}",
                          "config")
    if name not in RECIPES:
        close = difflib.get_close_matches(str(name), list(RECIPES), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(f"{source}: unknown recipe {name!r}; {hint}known: {', '.join(RECIPES)}", "config")
    settings = {k: v for k, v in data.items() if k != "recipe"}
    try:
        return recipe_class(name).from_settings(settings, base, model_paths=model_paths, options=options)
    except ConfigError as exc:
        raise ConfigError(f"run config {source}: {exc}") from None


def recipe_class(name: str) -> Any:
    """The class of a registered recipe (``verify`` finds a recorded tree's naming and checks through it)."""
    if name not in RECIPES:
        raise ConfigError(f"unknown recipe {name!r} recorded; known: {', '.join(RECIPES)}")
    module_name, attribute = RECIPES[name].split(":")
    return getattr(importlib.import_module(module_name), attribute)


def builtin_configs() -> list[str]:
    """Names of the run configs shipped in ``configs/`` (those with a ``recipe:`` key)."""
    import yaml

    names = []
    for item in resources.files("svcprep.configs").iterdir():
        if item.name.endswith(".yaml") and "recipe" in (yaml.safe_load(item.read_text(encoding="utf-8")) or {}):
            names.append(item.name[: -len(".yaml")])
    return sorted(names)
