"""One base for the recipes fed by one ContentVec-family encoder and one F0 tracker (so-vits-svc, DDSP-SVC, RVC):
the encoder chosen by a project's own key, its model and options, the pitch settings with the project's default
tracker, and how a run config becomes those settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from svcprep.pitch.settings import PitchSettings
from svcprep.recipes.base import Recipe
from svcprep.recipes.settings import ExtractorConfig, recipe_settings


@dataclass(frozen=True)
class ContentRecipe(Recipe):
    """``encoders`` maps the value of the project's key ``encoder_key`` (``speech_encoder``, ``encoder``,
    ``version``) to ``(svcprep extractor, width, ...)``; ``pitch``'s default is the project's tracker."""

    encoder_key: ClassVar[str] = ""
    encoders: ClassVar[dict[str, tuple]] = {}
    derived_fields: ClassVar[tuple[str, ...]] = ("pitch_note",)

    model: str | None = None
    options: dict = field(default_factory=dict)
    pitch: PitchSettings = field(default_factory=lambda: PitchSettings(method="rmvpe", threshold=0.03))
    pitch_note: str = ""  # which tracker the settings chose, for the run's summary

    @classmethod
    def from_settings(cls, data: dict[str, Any], base: Path, *, model_paths: dict[str, str],
                      options: dict[str, dict]) -> ContentRecipe:
        values = {**data, **options.get(cls.name, {})}
        default_encoder = cls.__dataclass_fields__[cls.encoder_key].default
        extractor = cls.encoders.get(values.get(cls.encoder_key, default_encoder), (None,))[0]
        default_pitch = cls.__dataclass_fields__["pitch"].default_factory()
        return cls(**recipe_settings(cls.name, data, cls.settings_keys(), extractor, base, model_paths, options,
                                     default_pitch))

    def option_names(self) -> set[str]:
        return {"contentvec", self.extractor.name, "pitch", self.pitch.method, self.name}

    @property
    def encoder_choice(self) -> str:
        return getattr(self, self.encoder_key)

    @property
    def extractor(self) -> ExtractorConfig:
        return ExtractorConfig(self.encoders[self.encoder_choice][0], self.model, self.options)

    @property
    def content_width(self) -> int:
        return self.encoders[self.encoder_choice][1]
