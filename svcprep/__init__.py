"""svcprep: content features for singing-voice-conversion training, aligned to the exact mel frame grid.

Importing this package is cheap: torch and the model code load only when an extractor is loaded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

if TYPE_CHECKING:
    from svcprep.align import align_features


def __getattr__(name: str) -> Any:
    if name == "align_features":
        from svcprep.align import align_features  # lazy: `import svcprep` stays cheap

        return align_features
    if name == "load_extractor":
        from svcprep.extractors.registry import load_extractor  # lazy: `import svcprep` stays cheap

        return load_extractor
    if name == "load_pitch_tracker":
        from svcprep.pitch.registry import load_pitch_tracker  # lazy: `import svcprep` stays cheap

        return load_pitch_tracker
    if name == "load_separator":
        from svcprep.separation.separator import load_separator  # lazy: `import svcprep` stays cheap

        return load_separator
    raise AttributeError(f"module 'svcprep' has no attribute {name!r}")


__all__ = ["align_features", "load_extractor", "load_pitch_tracker", "load_separator", "__version__"]
