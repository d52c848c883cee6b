"""Indicators against the independent `ta` package, on real bundled market data."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import ta

from provenant.domain.indicators import compute_indicators, resample_weekly, rsi, snapshot
from provenant.adapters.market_data import BUNDLED_DATASETS

TOLERANCE = 1e-6


def reference(close: pd.Series) -> pd.DataFrame:
    macd = ta.trend.MACD(close, window_slow=26, window_fast=12, window_sign=9)
    bands = ta.volatility.BollingerBands(close, window=20, window_dev=2)
    return pd.DataFrame({
        "sma_20": ta.trend.SMAIndicator(close, 20).sma_indicator(),
        "sma_50": ta.trend.SMAIndicator(close, 50).sma_indicator(),
        "sma_200": ta.trend.SMAIndicator(close, 200).sma_indicator(),
        "rsi_14": ta.momentum.RSIIndicator(close, 14).rsi(),
        "macd": macd.macd(), "macd_signal": macd.macd_signal(), "macd_hist": macd.macd_diff(),
        "bb_upper": bands.bollinger_hband(), "bb_middle": bands.bollinger_mavg(),
        "bb_lower": bands.bollinger_lband(),
    })


def assert_matches_ta(bars: pd.DataFrame) -> None:
    ours, theirs = compute_indicators(bars), reference(bars["close"])
    for column in theirs:
        mine, ref = ours[column], theirs[column]
        assert (mine.isna() == ref.isna()).all(), f"{column}: different warm-up"
        assert mine.notna().any() or column == "sma_200", f"{column}: never computed"
        diff = (mine - ref).abs().max()
        assert not diff > TOLERANCE, f"{column}: differs from ta by {diff}"


@pytest.mark.parametrize("symbol", sorted(BUNDLED_DATASETS))
def test_daily_indicators_match_ta(symbol, bundled):
    bars = bundled(symbol).to_frame()
    assert_matches_ta(bars)


@pytest.mark.parametrize("symbol", ["TSLA", "NVDA"])
def test_weekly_indicators_match_ta(symbol, bundled):
    weekly = resample_weekly(bundled(symbol).to_frame())
    assert_matches_ta(weekly)


def test_weekly_bars_aggregate_the_days(bundled):
    daily = bundled("MSFT").to_frame()
    weekly = resample_weekly(daily)
    week = daily.loc["2020-03-09":"2020-03-13"]
    row = weekly.loc["2020-03-13"]
    assert row["open"] == week["open"].iloc[0] and row["close"] == week["close"].iloc[-1]
    assert row["high"] == week["high"].max() and row["low"] == week["low"].min()
    assert row["volume"] == week["volume"].sum()
    assert weekly.index.dayofweek.unique().tolist() == [4]  # weeks end on Friday


def test_rsi_of_a_series_that_only_rises_is_100():
    close = pd.Series(np.arange(1.0, 40.0))
    values = rsi(close)
    assert values.iloc[:13].isna().all()
    assert (values.iloc[14:] == 100.0).all()


def test_snapshot_holds_the_latest_values_and_none_when_too_short(bundled):
    daily = bundled("TSLA").to_frame()
    snap = snapshot(daily, "daily")
    assert snap.as_of == daily.index[-1].date() and snap.close == daily["close"].iloc[-1]
    assert snap.sma_200 == pytest.approx(daily["close"].iloc[-200:].mean(), abs=TOLERANCE)
    weekly = snapshot(resample_weekly(daily), "weekly")
    assert weekly.sma_200 is None and weekly.sma_20 is not None
    assert "sma_200" not in weekly.values()
