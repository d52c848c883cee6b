"""Which hosts count as loopback, for `provenant serve`'s refusal to open writes to a network."""
from __future__ import annotations

import pytest

from provenant.cli.serving import is_loopback


@pytest.mark.parametrize("host", ["127.0.0.1", "127.4.5.6", "::1", "[::1]", "localhost",
                                  "LOCALHOST"])
def test_loopback_hosts(host):
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "10.0.0.1", "fe80::1",
                                  "provenant.example", "127.0.0.1.nip.io", "localhost.evil"])
def test_hosts_others_can_reach(host):
    assert not is_loopback(host)
