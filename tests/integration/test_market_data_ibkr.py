"""The IBKR market data provider without a gateway: it tries a real connection (network)."""
from __future__ import annotations

import pytest

from provenant.adapters.market_data import fetch_bars
from provenant.config import Settings


def test_ibkr_provider_fails_clearly_without_a_gateway():
    # Port 9 (discard) has no TWS; without the ibkr extra the error says how to install it.
    settings = Settings(ibkr_port=9)
    with pytest.raises((RuntimeError, ConnectionError),
                       match=r"pip install 'provenant\[ibkr\]'|could not connect to IBKR"):
        fetch_bars("ibkr", "TSLA", settings)
