"""Analysts turn indicators and charts into a signal: `rules` (default) or `openai`."""
from __future__ import annotations

from provenant.config import Settings
from provenant.adapters.analysts.base import (
    Analysis, AnalystError, AnalystRequest, ChartImage, InvalidAnswer, parse_signal)

ANALYSTS = ("rules", "openai")


def get_analyst(name: str, settings: Settings):
    """The analyst called `name`, configured from settings."""
    if name == "rules":
        from provenant.adapters.analysts.rules import RulesAnalyst

        return RulesAnalyst()
    if name == "openai":
        from provenant.adapters.analysts.openai_compatible import OpenAICompatibleAnalyst

        return OpenAICompatibleAnalyst(settings)
    raise ValueError(f"unknown analyst {name!r}; choose one of {', '.join(ANALYSTS)}")


__all__ = ["ANALYSTS", "Analysis", "AnalystError", "AnalystRequest", "ChartImage",
           "InvalidAnswer", "get_analyst", "parse_signal"]
