"""Package discovery for the design card's layout: ``svcprep/`` plus the top-level ``cli/``, ``extractors/``,
``align/`` and ``configs/`` folders, installed as subpackages of ``svcprep``. Every package below them is found,
so a new module or subpackage ships in the wheel without a list to keep (the rest of the metadata is in
pyproject.toml)."""

from setuptools import find_packages, setup

TOP_LEVEL_SUBPACKAGES = ("cli", "extractors", "align", "configs")  # folder at the top -> svcprep.<folder>


def discovered() -> tuple[list[str], dict[str, str]]:
    packages = ["svcprep", *(f"svcprep.{name}" for name in find_packages("svcprep"))]
    package_dir = {"svcprep": "svcprep"}
    for folder in TOP_LEVEL_SUBPACKAGES:
        packages += [f"svcprep.{folder}", *(f"svcprep.{folder}.{name}" for name in find_packages(folder))]
        package_dir[f"svcprep.{folder}"] = folder
    return packages, package_dir


packages, package_dir = discovered()
setup(packages=packages, package_dir=package_dir)
