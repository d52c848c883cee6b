"""Candlestick charts (mplfinance, Agg backend): price with SMA/Bollinger overlays,
volume and an RSI panel, rendered to PNG bytes."""
from __future__ import annotations

import io
import logging

import pandas as pd

DAILY_BARS_SHOWN = 130  # about six months: readable candles; indicators use the full history
WEEKLY_BARS_SHOWN = 104


def render_chart(bars: pd.DataFrame, indicators: pd.DataFrame, *, title: str,
                 bars_shown: int) -> bytes:
    """A PNG of the last `bars_shown` bars with overlays, volume and RSI."""
    import matplotlib

    matplotlib.use("Agg")  # headless: no display, safe in workers and CI
    # The "yahoo" style asks for a semibold font DejaVu lacks; the fallback is fine, the log noise not.
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    import matplotlib.pyplot as plt
    import mplfinance as mpf

    shown = bars.iloc[-bars_shown:].rename(columns=str.capitalize)
    ind = indicators.loc[shown.index]
    overlays = [("sma_20", "tab:blue"), ("sma_50", "tab:orange"), ("sma_200", "tab:purple"),
                ("bb_upper", "silver"), ("bb_lower", "silver")]
    plots = [mpf.make_addplot(ind[name], color=color, width=0.9, panel=0, secondary_y=False)
             for name, color in overlays if ind[name].notna().any()]
    if ind["rsi_14"].notna().any():
        plots += [mpf.make_addplot(ind["rsi_14"], panel=2, color="tab:green", ylabel="RSI 14",
                                   ylim=(0, 100), secondary_y=False),
                  mpf.make_addplot(pd.Series(70.0, index=ind.index), panel=2, color="tab:red",
                                   linestyle="--", width=0.6, secondary_y=False),
                  mpf.make_addplot(pd.Series(30.0, index=ind.index), panel=2, color="tab:red",
                                   linestyle="--", width=0.6, secondary_y=False)]
    buffer = io.BytesIO()
    fig, _axes = mpf.plot(shown, type="candle", style="yahoo", volume=True, addplot=plots,
                          panel_ratios=(4, 1, 1.5), figsize=(11, 8), title=title,
                          ylabel="Price", ylabel_lower="Volume", returnfig=True,
                          scale_padding={"left": 0.3, "right": 0.9, "top": 0.6, "bottom": 0.7},
                          warn_too_much_data=10_000)
    try:
        fig.savefig(buffer, format="png", dpi=80)
    finally:
        plt.close(fig)  # figures are global state in pyplot: free each one
    return buffer.getvalue()
