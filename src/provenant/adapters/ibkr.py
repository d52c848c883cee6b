"""The IBKR boundary: a lazily imported ib_async connection to TWS or IB Gateway."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from provenant.config import Settings

CONNECT_TIMEOUT_SECONDS = 10.0
# IBKR's default ports for live trading (TWS, Gateway); paper accounts use 7497 / 4002.
LIVE_PORTS = frozenset({7496, 4001})


class IbkrNotInstalled(RuntimeError):
    """ib_async (the extra `ibkr`) is not installed."""


class IbkrUnavailable(ConnectionError):
    """TWS / IB Gateway could not be reached."""


def ib_async_module():
    """The ib_async module, imported only when IBKR is actually used."""
    try:
        import ib_async
    except ImportError:
        raise IbkrNotInstalled("IBKR needs the ib_async package: "
                               "pip install 'provenant[ibkr]'") from None
    return ib_async


@contextmanager
def connect(settings: Settings, *, readonly: bool = True) -> Iterator:
    """A connected ``ib_async.IB`` for the block, disconnected afterwards."""
    ib_async = ib_async_module()
    ib = ib_async.IB()
    address = f"{settings.ibkr_host}:{settings.ibkr_port}"
    try:
        ib.connect(settings.ibkr_host, settings.ibkr_port, clientId=settings.ibkr_client_id,
                   timeout=CONNECT_TIMEOUT_SECONDS, readonly=readonly)
    except (OSError, TimeoutError) as exc:
        raise IbkrUnavailable(f"could not connect to IBKR TWS/IB Gateway at {address} "
                              f"(client id {settings.ibkr_client_id}): "
                              f"{exc or type(exc).__name__}") from None
    try:
        yield ib
    finally:
        ib.disconnect()
