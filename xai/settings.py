"""Explainers describe their own settings, so a page builds its widgets from the description.

Adding an explanation method is its file (with `settings`) plus one registry line in xai/__init__.py;
no page needs editing. Streamlit-free: pages/common.py turns a Setting into a widget.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Setting:
    """One keyword argument of an explainer, as a user sees it."""

    name: str  # the explainer's keyword argument
    label: str
    kind: str  # "int": a slider from low to high; "choice": one of `choices`; "layer": a layer of the model
    default: Any = None  # None for "layer": the model's last layer
    low: int | None = None
    high: int | None = None
    step: int | None = None
    choices: tuple = ()
    choice_labels: dict = field(default_factory=dict)  # choice -> words shown instead of the raw value
    help: str = ""
    # Settings of several explainers with the same `shared` name get one widget (LIME and SHAP superpixels).
    shared: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("int", "choice", "layer"):
            raise ValueError(f"unknown setting kind {self.kind!r}")
        if self.kind == "int" and not (self.low <= self.default <= self.high):
            raise ValueError(f"{self.name}: default {self.default} outside [{self.low}, {self.high}]")
        if self.kind == "choice" and self.default not in self.choices:
            raise ValueError(f"{self.name}: default {self.default!r} is not one of {self.choices}")
