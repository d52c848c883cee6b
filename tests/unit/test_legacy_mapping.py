"""The previous system's wide artifacts as typed ones and back, image URL prefixes, path maps."""
from __future__ import annotations

from decimal import Decimal

import pytest

from provenant.adapters.image_fetch import ImageFetchRefused, allowed_prefix, fetch_image
from provenant.domain.artifacts import ArtifactType, validate_payload
from provenant.domain.legacy import (
    LegacyShapeError, market_window, merged_payload, typed_payload, wide_fields)
from provenant.service.legacy_images import ImageSources, parse_path_map


@pytest.mark.parametrize("side, expected", [
    ("BOT", "BUY"), ("SLD", "SELL"), ("sell", "SELL"), ("OrderSide.BUY", "BUY")])
def test_sides_become_buy_or_sell_keeping_what_was_reported(side, expected):
    kind, payload = typed_payload("signal", {"action": side, "confidence": Decimal("1.00"),
                                             "signal_data": {"artifact_type": "trade",
                                                             "side": side, "shares": 3}})
    assert kind is ArtifactType.trade and payload["side"] == expected
    assert payload.get("legacy_side", expected) == side and payload["quantity"] == 3
    assert payload["confidence"] == 1 and not isinstance(payload["confidence"], Decimal)
    validate_payload(kind, payload)


def test_every_filled_wide_field_is_kept_and_read_back():
    kind, payload = typed_payload("chart", {"chart_type": "daily", "prompt": "p",
                                            "response": "r", "model_name": "m",
                                            "metadata": {"a": 0.25}, "action": None,
                                            "prompt_length": Decimal("1")})
    assert kind is ArtifactType.chart and "action" not in payload
    assert type(payload["prompt_length"]) is int  # a NUMERIC column's Decimal
    wide = wide_fields(kind, payload)
    assert (wide["prompt"], wide["prompt_length"], wide["metadata"]) == ("p", 1, {"a": 0.25})
    order = wide_fields(ArtifactType.order, {"side": "BUY", "quantity": 5, "action": "BUY"})
    assert order["signal_data"] == {"artifact_type": "order", "side": "BUY", "quantity": 5}


def test_unknown_types_are_refused_and_metadata_merges_by_key():
    with pytest.raises(LegacyShapeError, match="unknown legacy type 'table'"):
        typed_payload("table", {})
    merged = merged_payload({"metadata": {"a": 1, "b": 2}, "x": 1},
                            {"metadata": {"b": 3}, "x": Decimal("2.5")})
    assert merged == {"metadata": {"a": 1, "b": 3}, "x": 2.5}


def test_market_window_finds_the_snapshot_bars():
    payload = {"metadata": {"market_data_snapshot": {"bars": [
        {"t": 1, "o": 1.0, "h": 2.0, "l": 0.5, "c": 1.5, "v": 10}]}}}
    source, bars = market_window(payload)
    assert source == "metadata.market_data_snapshot.bars"
    assert bars == [{"date": 1, "open": 1.0, "high": 2.0, "low": 0.5, "close": 1.5,
                     "volume": 10}]
    assert market_window({"bars": []}) is None and market_window({}) is None


@pytest.mark.parametrize("url, allowed", [
    ("http://minio:9000/trading-charts/charts/a.png", True),
    ("http://MINIO:9000/trading-charts/a.png", True),
    ("http://minio:9000/trading-charts-evil/a.png", False),
    ("http://minio:9001/trading-charts/a.png", False),
    ("https://minio:9000/trading-charts/a.png", False),
    ("http://minio:9000@evil.example/trading-charts/a.png", False),
])
def test_prefixes_match_scheme_host_port_and_whole_path_segments(url, allowed):
    prefixes = ["http://minio:9000/trading-charts"]
    try:
        found = allowed_prefix(url, prefixes)
    except ImageFetchRefused:
        found = None
    assert (found is not None) is allowed


@pytest.mark.parametrize("url, says", [
    ("http://minio:9000/trading-charts/%2e%2e/secret.png", "normal form"),
    ("gopher://minio:9000/trading-charts/a.png", "only http"),
    ("http://elsewhere/a.png", "not under an allowed"),
])
def test_fetch_refuses_before_any_request(url, says):
    with pytest.raises(ImageFetchRefused, match=says):
        fetch_image(url, ["http://minio:9000/trading-charts/"])


def test_path_maps_take_the_longest_old_prefix(tmp_path):
    sources = ImageSources(tmp_path, parse_path_map(["/app/charts=/srv/a",
                                                     "/app/charts/weekly=/srv/b"]))
    assert sources.located("/app/charts/x.png") == "/srv/a/x.png"
    assert sources.located("/app/charts/weekly/y.png") == "/srv/b/y.png"
    assert sources.located("/app/chartsX/z.png") == "/app/chartsX/z.png"
    assert sources.located("rel/z.png") == str(tmp_path / "rel/z.png")
    with pytest.raises(ValueError, match="expected OLD=NEW"):
        parse_path_map(["/app/charts"])


def test_urls_map_to_other_url_prefixes_which_may_then_be_fetched(tmp_path):
    sources = ImageSources(tmp_path, parse_path_map(
        ["http://minio:9000/trading-charts=s3://archive/trading-charts/",
         "http://minio:9000/other=/srv/minio-copy"]), ["http://cdn.example/charts/"])
    assert sources.located("http://minio:9000/trading-charts/charts/a.png") == (
        "s3://archive/trading-charts/charts/a.png")
    assert sources.located("http://minio:9000/other/b.png") == "/srv/minio-copy/b.png"
    assert sources.located("http://cdn.example/charts/c.png") == "http://cdn.example/charts/c.png"
    assert sources.allowed == ("http://cdn.example/charts/", "s3://archive/trading-charts/")
    assert sources.uses_s3
