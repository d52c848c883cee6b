"""Signal validation, orders, and the deterministic rules-based analyst."""
from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from provenant.config import Settings
from provenant.domain.signals import Order, Signal
from provenant.adapters.analysts import InvalidAnswer, get_analyst, parse_signal
from provenant.adapters.analysts.base import AnalystRequest
from provenant.adapters.analysts.rules import MODEL_NAME, rules_signal
from provenant.domain.indicators import resample_weekly, snapshot

BUY = {"action": "BUY", "confidence": 0.7, "score": 0.4, "entry_price": 100, "stop_loss": 95,
       "take_profit": 110, "rationale": "trend"}


def test_a_buy_computes_its_risk_reward():
    assert Signal(**BUY).risk_reward == 2.0


@pytest.mark.parametrize("change, message", [
    ({"stop_loss": 101}, "stop_loss < entry_price < take_profit"),
    ({"take_profit": 99}, "stop_loss < entry_price < take_profit"),
    ({"action": "SELL"}, "take_profit < entry_price < stop_loss"),
    ({"stop_loss": None}, "needs entry_price, stop_loss and take_profit"),
    ({"risk_reward": 5}, "does not match the levels"),
    ({"confidence": 1.2}, "less than or equal to 1"),
    ({"action": "STRONG BUY"}, "'BUY', 'SELL' or 'HOLD'"),
    ({"rationale": ""}, "at least 1 character"),
])
def test_inconsistent_signals_are_rejected(change, message):
    with pytest.raises(ValidationError, match=message):
        Signal(**{**BUY, **change})


def test_a_sell_and_a_hold_without_levels_are_valid():
    sell = Signal(**{**BUY, "action": "SELL", "stop_loss": 105, "take_profit": 90})
    assert sell.risk_reward == 2.0
    hold = Signal(action="HOLD", confidence=0.5, score=0.0, rationale="mixed")
    assert hold.entry_price is None and hold.risk_reward is None


def test_orders_follow_the_signal_and_hold_has_none():
    order = Order.for_signal("TSLA", Signal(**BUY), quantity=3)
    assert (order.side, order.quantity, order.limit_price, order.stop_loss,
            order.take_profit) == ("BUY", 3, 100, 95, 110)
    with pytest.raises(ValueError, match="HOLD signal has no order"):
        Order.for_signal("TSLA", Signal(action="HOLD", confidence=0.5, score=0, rationale="x"), 1)


@pytest.mark.parametrize("text", [json.dumps(BUY), f"```json\n{json.dumps(BUY)}\n```"])
def test_answers_parse_with_or_without_code_fences(text):
    assert parse_signal(text).action == "BUY"


@pytest.mark.parametrize("text, reason", [
    ("", "empty"), ("I think BUY", "not valid JSON"), ('{"action": "BUY", "conf', "not valid JSON"),
    ("[1, 2]", "not an object"), (json.dumps({**BUY, "stop_loss": 120}), "not a valid signal"),
])
def test_bad_answers_say_why(text, reason):
    with pytest.raises(InvalidAnswer, match=reason):
        parse_signal(text)


@pytest.fixture(scope="module")
def tsla(bundled) -> AnalystRequest:
    daily = bundled("TSLA").to_frame()
    return AnalystRequest("TSLA", snapshot(daily, "daily"),
                          snapshot(resample_weekly(daily), "weekly"))


def test_rules_analyst_is_deterministic_and_says_it_is_rules_based(tsla):
    analyst = get_analyst("rules", Settings())
    first, second = analyst.analyze(tsla), analyst.analyze(tsla)
    assert first.signal == second.signal and first.response == second.response
    assert "rules" in first.model_name and first.model_name == MODEL_NAME
    assert first.provider == "rules"
    assert Signal.model_validate_json(first.response) == first.signal
    assert "Symbol: TSLA" in first.prompt and "rsi_14=" in first.prompt


def test_rules_analyst_reads_tsla_bundled_data_as_a_buy(tsla):
    # TSLA's bundled history ends 2022-03-23 above its 50/200-day averages with MACD rising.
    signal = get_analyst("rules", Settings()).analyze(tsla).signal
    assert signal.action == "BUY"
    assert signal.stop_loss < signal.entry_price < signal.take_profit
    assert signal.risk_reward == 2.0 and 0.5 <= signal.confidence <= 0.95


def test_rules_analyst_holds_when_the_votes_cancel_out(tsla):
    request = tsla
    mixed = request.daily.model_copy(update={
        "sma_50": request.daily.close * 1.01, "sma_200": request.daily.close * 0.99,
        "macd_hist": 0.0, "rsi_14": 50.0})
    weekly = request.weekly.model_copy(update={"sma_20": request.weekly.close})
    signal = rules_signal(mixed, weekly)
    assert signal.action == "HOLD" and abs(signal.score) < 0.15
    assert signal.entry_price is None


def test_unknown_analyst_is_a_clear_error():
    with pytest.raises(ValueError, match="rules, openai"):
        get_analyst("oracle", Settings())
