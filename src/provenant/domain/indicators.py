"""Technical indicators on daily or weekly bars: SMA, RSI, MACD, Bollinger bands.

Conventions follow the common charting definitions (and the `ta` package, which the
tests compare against): exponential averages are seeded at the first value
(``adjust=False``), RSI uses Wilder's smoothing (alpha = 1/14) and the Bollinger
band width uses the population standard deviation.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from provenant.domain.market import IndicatorSnapshot

SMA_WINDOWS = (20, 50, 200)
RSI_WINDOW = 14
MACD_FAST, MACD_SLOW, MACD_SIGNAL = 12, 26, 9
BB_WINDOW, BB_DEVIATIONS = 20, 2


def sma(close: pd.Series, window: int) -> pd.Series:
    """Simple moving average; NaN until `window` closes exist."""
    return close.rolling(window, min_periods=window).mean()


def ema(series: pd.Series, span: int) -> pd.Series:
    """Exponential moving average seeded at the first value."""
    return series.ewm(span=span, min_periods=span, adjust=False).mean()


def rsi(close: pd.Series, window: int = RSI_WINDOW) -> pd.Series:
    """Relative strength index (0-100) with Wilder's smoothing."""
    change = close.diff()
    gains = change.where(change > 0, 0.0)
    losses = -change.where(change < 0, 0.0)
    avg_gain = gains.ewm(alpha=1 / window, min_periods=window, adjust=False).mean()
    avg_loss = losses.ewm(alpha=1 / window, min_periods=window, adjust=False).mean()
    with np.errstate(divide="ignore", invalid="ignore"):
        value = 100 - 100 / (1 + avg_gain / avg_loss)
    # No losses in the window means maximal strength, not a division error.
    return value.where(avg_loss != 0, 100.0).where(avg_loss.notna())


def macd(close: pd.Series) -> pd.DataFrame:
    """MACD line (EMA 12 - EMA 26), its 9-period signal line and the histogram."""
    line = ema(close, MACD_FAST) - ema(close, MACD_SLOW)
    signal = ema(line, MACD_SIGNAL)
    return pd.DataFrame({"macd": line, "macd_signal": signal, "macd_hist": line - signal})


def bollinger(close: pd.Series) -> pd.DataFrame:
    """Bollinger bands: SMA 20 plus/minus two population standard deviations."""
    middle = sma(close, BB_WINDOW)
    width = BB_DEVIATIONS * close.rolling(BB_WINDOW, min_periods=BB_WINDOW).std(ddof=0)
    return pd.DataFrame({"bb_upper": middle + width, "bb_middle": middle,
                         "bb_lower": middle - width})


def compute_indicators(bars: pd.DataFrame) -> pd.DataFrame:
    """Every indicator as a column, aligned with the bars' index."""
    close = bars["close"].astype(float)
    columns = {f"sma_{w}": sma(close, w) for w in SMA_WINDOWS}
    columns["rsi_14"] = rsi(close)
    return pd.concat([pd.DataFrame(columns), macd(close), bollinger(close)], axis=1)


def resample_weekly(bars: pd.DataFrame) -> pd.DataFrame:
    """Daily bars to weekly bars ending on Friday (the last bar may be a partial week)."""
    weekly = bars.resample("W-FRI").agg({"open": "first", "high": "max", "low": "min",
                                         "close": "last", "volume": "sum"})
    return weekly.dropna(subset=["open", "high", "low", "close"])


def snapshot(bars: pd.DataFrame, timeframe: str,
             indicators: pd.DataFrame | None = None) -> IndicatorSnapshot:
    """The latest close and indicator values of a series."""
    indicators = compute_indicators(bars) if indicators is None else indicators
    latest = indicators.iloc[-1].to_dict()
    return IndicatorSnapshot(timeframe=timeframe, as_of=bars.index[-1].date(),
                             close=float(bars["close"].iloc[-1]),
                             **{k: float(v) for k, v in latest.items()})
