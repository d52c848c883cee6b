"""Analysts turn indicators and charts into a signal: `rules` (default) or `openai`."""
from __future__ import annotations

from provenant.adapters.analysts.base import (
    Analysis, Analyst, AnalystError, AnalystRequest, ChartImage, InvalidAnswer, parse_signal)
from provenant.adapters.choice import choose
from provenant.config import Settings


def get_analyst(name: str, settings: Settings) -> Analyst:
    """The analyst called `name`, configured from settings (optional SDKs load lazily)."""
    from provenant.adapters.analysts.openai_compatible import OpenAICompatibleAnalyst
    from provenant.adapters.analysts.rules import RulesAnalyst

    return choose("analyst", name, {"rules": RulesAnalyst,
                                    "openai": lambda: OpenAICompatibleAnalyst(settings)})


__all__ = ["Analysis", "Analyst", "AnalystError", "AnalystRequest", "ChartImage",
           "InvalidAnswer", "get_analyst", "parse_signal"]
