"""A deterministic, rules-based technical analyst: the default, offline and reproducible."""
from __future__ import annotations

import time

from provenant.domain.market import IndicatorSnapshot
from provenant.domain.signals import Signal, Trend
from provenant.adapters.analysts.base import Analysis, AnalystRequest, user_prompt

MODEL_NAME = "rules-based-technical-analyst-v1"
ACTION_THRESHOLD = 0.15  # |score| below this is too weak a case either way: HOLD
REWARD_PER_RISK = 2.0


def _sign(condition_up: bool, condition_down: bool) -> float:
    return 1.0 if condition_up else -1.0 if condition_down else 0.0


def _votes(daily: IndicatorSnapshot, weekly: IndicatorSnapshot) -> list[tuple[float, float, str]]:
    """(weight, vote in [-1, 1], reason) for each rule that has the data it needs."""
    votes: list[tuple[float, float, str]] = []
    close = daily.close
    for name, weight in (("sma_50", 0.15), ("sma_200", 0.2)):
        level = getattr(daily, name)
        if level is not None:
            side = "above" if close > level else "below"
            votes.append((weight, _sign(close > level, close < level),
                          f"close {close:.2f} {side} {name.upper().replace('_', ' ')} {level:.2f}"))
    if daily.sma_50 is not None and daily.sma_200 is not None:
        golden = daily.sma_50 > daily.sma_200
        votes.append((0.1, _sign(golden, not golden),
                      f"SMA 50 {'above' if golden else 'below'} SMA 200"))
    if daily.macd_hist is not None:
        votes.append((0.2, _sign(daily.macd_hist > 0, daily.macd_hist < 0),
                      f"MACD histogram {daily.macd_hist:+.2f}"))
    if daily.rsi_14 is not None:
        rsi = daily.rsi_14
        # Overbought/oversold argue for a reversal; in between, RSI leans with momentum.
        vote = -1.0 if rsi > 70 else 1.0 if rsi < 30 else (rsi - 50) / 20
        votes.append((0.15, vote, f"RSI 14 at {rsi:.1f}"))
    if weekly.sma_20 is not None:
        up = weekly.close > weekly.sma_20
        votes.append((0.2, _sign(up, not up),
                      f"weekly close {'above' if up else 'below'} weekly SMA 20 {weekly.sma_20:.2f}"))
    return votes


def _trend(snap: IndicatorSnapshot) -> Trend:
    if snap.sma_20 is None or snap.macd_hist is None:
        return "neutral"
    if snap.close > snap.sma_20 and snap.macd_hist > 0:
        return "bullish"
    if snap.close < snap.sma_20 and snap.macd_hist < 0:
        return "bearish"
    return "neutral"


def rules_signal(daily: IndicatorSnapshot, weekly: IndicatorSnapshot) -> Signal:
    """Weighted votes of trend, momentum and RSI rules; stops at two Bollinger sigmas."""
    votes = _votes(daily, weekly)
    total = sum(w for w, _, _ in votes) or 1.0
    score = round(sum(w * v for w, v, _ in votes) / total, 4)
    action = "BUY" if score >= ACTION_THRESHOLD else "SELL" if score <= -ACTION_THRESHOLD else "HOLD"
    factors = [reason for _, _, reason in sorted(votes, key=lambda x: -abs(x[0] * x[1]))]
    levels: dict[str, float] = {}
    if action != "HOLD":
        entry = daily.close
        # Two standard deviations of the last 20 closes, at least 2% of the price.
        risk = max((daily.bb_upper - daily.bb_middle) if daily.bb_upper else 0, 0.02 * entry)
        direction = 1 if action == "BUY" else -1
        levels = {"entry_price": round(entry, 4),
                  "stop_loss": round(entry - direction * risk, 4),
                  "take_profit": round(entry + direction * REWARD_PER_RISK * risk, 4)}
    confidence = round(min(0.95, 0.5 + abs(score) / 2), 4)
    rationale = (f"Rules-based technical read: weighted score {score:+.2f} from "
                 f"{len(votes)} trend, momentum and RSI rules gives {action}.")
    return Signal(action=action, confidence=confidence, score=score, rationale=rationale,
                  key_factors=factors, timeframes={"daily": _trend(daily), "weekly": _trend(weekly)},
                  **levels)


class RulesAnalyst:
    """Deterministic analyst: same indicators in, same signal out; no network."""

    provider = "rules"
    model_name = MODEL_NAME

    def analyze(self, request: AnalystRequest) -> Analysis:
        """Score the indicators with fixed rules."""
        started = time.perf_counter()
        signal = rules_signal(request.daily, request.weekly)
        return Analysis(signal=signal, prompt=user_prompt(request),
                        response=signal.model_dump_json(exclude_none=True),
                        model_name=MODEL_NAME, provider=self.provider,
                        latency_ms=round((time.perf_counter() - started) * 1000, 3))
