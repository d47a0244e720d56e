"""Content extractors: one family per module, one lazy registry (``registry.py``)."""

from svcprep.extractors.registry import ENTRIES, get_entry, load_extractor, spec_for
from svcprep.extractors.spec import ExtractorSpec

__all__ = ["ENTRIES", "ExtractorSpec", "get_entry", "load_extractor", "spec_for"]
