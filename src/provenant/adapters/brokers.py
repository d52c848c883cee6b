"""Brokers: `paper` (default) records the order and sends nothing; `ibkr` routes it via ib_async.

No order ever reaches a live account unless PROVENANT_ALLOW_LIVE_ORDERS is true.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from provenant.adapters.choice import choose
from provenant.config import Settings
from provenant.domain.signals import Order


class LiveOrdersDisabled(PermissionError):
    """Routing would reach a live account and live orders are not enabled."""


@dataclass(frozen=True)
class Placement:
    """What the broker did with an order."""

    broker: str
    status: str  # "recorded" (paper) or the broker's order status
    sent: bool  # whether anything left this process
    details: dict = field(default_factory=dict)


class Broker(Protocol):
    """Places an order and says what happened to it."""

    name: str

    def place(self, order: Order) -> Placement:
        """Send (or, on paper, record) the order."""


class PaperBroker:
    """Records the order only: nothing is sent anywhere."""

    name = "paper"

    def place(self, order: Order) -> Placement:
        """Accept the order on paper."""
        return Placement(broker=self.name, status="recorded", sent=False)


class IbkrBroker:
    """A bracket order to TWS / IB Gateway; refuses live accounts unless allowed."""

    name = "ibkr"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def place(self, order: Order) -> Placement:
        """Send a limit entry with stop-loss and take-profit children."""
        from provenant.adapters.ibkr import LIVE_PORTS, connect, ib_async_module

        live_allowed = self.settings.allow_live_orders
        if self.settings.ibkr_port in LIVE_PORTS and not live_allowed:
            raise LiveOrdersDisabled(f"port {self.settings.ibkr_port} is IBKR's live-trading "
                                     "port; set PROVENANT_ALLOW_LIVE_ORDERS=true to trade live")
        ib_async = ib_async_module()
        with connect(self.settings, readonly=False) as ib:
            live_accounts = [a for a in ib.managedAccounts() if not a.startswith("DU")]
            if live_accounts and not live_allowed:  # IBKR paper accounts start with DU
                raise LiveOrdersDisabled(f"connected to live account(s) {', '.join(live_accounts)};"
                                         " set PROVENANT_ALLOW_LIVE_ORDERS=true to trade live")
            contract = ib_async.Stock(order.symbol, "SMART", "USD")
            ib.qualifyContracts(contract)
            bracket = ib.bracketOrder(order.side, order.quantity, order.limit_price,
                                      order.take_profit, order.stop_loss)
            trades = [ib.placeOrder(contract, o) for o in bracket]
            ib.sleep(1)  # let TWS acknowledge before we report a status
        parent = trades[0]
        return Placement(broker=self.name, status=parent.orderStatus.status or "Submitted",
                         sent=True, details={"order_id": parent.order.orderId,
                                             "perm_id": parent.order.permId})


def get_broker(name: str, settings: Settings) -> Broker:
    """The broker called `name`."""
    return choose("broker", name, {"paper": PaperBroker, "ibkr": lambda: IbkrBroker(settings)})
