"""Market data providers and bar validation: real bundled data, user CSVs, clear errors."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from provenant.config import Settings
from provenant.domain.market import BarSeries, InvalidBars, normalize_symbol, validate_bars
from provenant.adapters.market_data import (
    BUNDLED_DATASETS, MarketDataError, fetch_bars, normalize_frame)


def make_bars(n: int = 260, start: str = "2022-01-03") -> pd.DataFrame:
    index = pd.bdate_range(start, periods=n, name="date")
    close = 100 + np.cumsum(np.sin(np.arange(n) / 7))
    return pd.DataFrame({"open": close - 0.5, "high": close + 1, "low": close - 1,
                         "close": close, "volume": 1_000.0}, index=index)


@pytest.mark.parametrize("symbol", sorted(BUNDLED_DATASETS))
def test_bundled_symbols_load_real_validated_bars(symbol, bundled):
    series = bundled(symbol)  # fetch_bars("bundled", symbol), shared with other tests
    assert series.symbol == symbol and series.provider == "bundled"
    assert 200 <= len(series.bars) <= 400
    frame = series.to_frame()
    assert frame.index.is_monotonic_increasing and frame.index.is_unique
    assert (frame["high"] >= frame["low"]).all()


def test_unknown_bundled_symbol_lists_the_available_ones():
    with pytest.raises(MarketDataError, match="AMZN, MSFT, NFLX, NVDA, TSLA"):
        fetch_bars("bundled", "AAPL", Settings())


def test_unknown_provider_is_a_clear_error():
    with pytest.raises(MarketDataError, match="bundled, csv, ibkr"):
        fetch_bars("yahoo", "TSLA", Settings())


@pytest.mark.parametrize("break_it, message", [
    (lambda f: f.iloc[:150], "150 daily bars, need at least 200"),
    (lambda f: f.assign(close=f["close"].where(f.index != f.index[40])), "missing OHLC values"),
    (lambda f: pd.concat([f, f.iloc[[10]]]).sort_index(), "duplicate date"),
    (lambda f: f.iloc[::-1], "not in ascending order"),
    (lambda f: f.drop(f.index[100:115]), "gap(s) longer than 10 days"),
    (lambda f: f.assign(high=f["low"] - 1), "high/low do not bracket"),
    (lambda f: f.assign(low=-f["low"]), "non-positive prices"),
    (lambda f: f.drop(columns="volume"), "lacks column(s) volume"),
])
def test_invalid_bars_are_rejected_with_the_reason(break_it, message):
    good = make_bars()
    validate_bars(good, "TEST")
    with pytest.raises(InvalidBars, match=message.replace("(", r"\(").replace(")", r"\)")):
        validate_bars(break_it(good.copy()), "TEST")


def test_bar_series_round_trips_through_json_and_revalidates():
    series = BarSeries.from_frame(make_bars(), "TEST", "csv")
    again = BarSeries.model_validate_json(series.model_dump_json())
    pd.testing.assert_frame_equal(again.to_frame(), series.to_frame(), check_freq=False)
    broken = series.model_dump(mode="json")
    broken["bars"] = broken["bars"][:50]
    with pytest.raises(ValueError, match="need at least 200"):
        BarSeries.model_validate(broken)


def test_csv_provider_reads_a_users_file_with_several_symbols(tmp_path):
    frame = make_bars().reset_index()
    both = pd.concat([frame.assign(Symbol="AAA"), frame.assign(Symbol="BBB", close=frame.close * 2,
                                                               high=frame.high * 2)])
    path = tmp_path / "prices.csv"
    both.rename(columns=str.capitalize).to_csv(path, index=False)
    settings = Settings(market_data_csv=path)
    series = fetch_bars("csv", "BBB", settings)
    assert series.bars[-1].close == pytest.approx(2 * frame["close"].iloc[-1])
    with pytest.raises(MarketDataError, match="no rows for CCC; it has AAA, BBB"):
        fetch_bars("csv", "CCC", settings)


def test_csv_provider_errors_are_clear(tmp_path):
    with pytest.raises(MarketDataError, match="needs a file"):
        fetch_bars("csv", "TSLA", Settings())
    with pytest.raises(MarketDataError, match="does not exist"):
        fetch_bars("csv", "TSLA", Settings(), csv_path=tmp_path / "missing.csv")
    no_close = tmp_path / "no_close.csv"
    make_bars().drop(columns="close").to_csv(no_close)
    with pytest.raises(MarketDataError, match="missing column.*close"):
        fetch_bars("csv", "TSLA", Settings(), csv_path=no_close)
    holes = tmp_path / "holes.csv"
    make_bars().assign(open=lambda f: f["open"].where(f.index.day != 15)).to_csv(holes)
    with pytest.raises(InvalidBars, match="missing OHLC values"):
        fetch_bars("csv", "TSLA", Settings(), csv_path=holes)


def test_dates_in_us_format_with_times_become_calendar_days():
    raw = pd.DataFrame({"Date": ["4/1/2015 16:00:00", "4/2/2015 16:00:00"], "Open": [1, 2],
                        "High": [2, 3], "Low": [0.5, 1], "Close": [1.5, 2.5], "Volume": [10, 20]})
    frame = normalize_frame(raw, "test")
    assert [d.isoformat() for d in frame.index.date] == ["2015-04-01", "2015-04-02"]


@pytest.mark.parametrize("raw, expected", [("tsla", "TSLA"), (" brk.b ", "BRK.B")])
def test_symbols_are_normalized(raw, expected):
    assert normalize_symbol(raw) == expected


@pytest.mark.parametrize("raw", ["", "TS LA", "../etc", "A" * 20])
def test_bad_symbols_are_rejected(raw):
    with pytest.raises(ValueError, match="invalid symbol"):
        normalize_symbol(raw)
