"""Domain rules: deep links, payload validation, image sniffing, cursors."""
from __future__ import annotations

import hashlib
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from provenant.domain.artifacts import NewArtifact, validate_payload
from provenant.domain.lineage import Lineage, mlflow_run_url
from provenant.domain.provenance import (
    HASH_VERSION, canonical_json, canonical_payload, content_hash, hash_with_payload_json,
    infer_chain)
from provenant.adapters.blobs import InvalidImage, LocalBlobStore, sniff_image
from provenant.store.repository import InvalidCursor, decode_cursor, encode_cursor

RUN_ID = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize("ui, lineage, url", [
    ("http://127.0.0.1:5000/", Lineage(RUN_ID, "12"),
     f"http://127.0.0.1:5000/#/experiments/12/runs/{RUN_ID}"),
    ("https://mlflow.example/ui", Lineage(RUN_ID.upper(), "exp_A-1"),
     f"https://mlflow.example/ui/#/experiments/exp_A-1/runs/{RUN_ID.upper()}"),
])
def test_deep_link_is_exactly_the_contract_url(ui, lineage, url):
    assert mlflow_run_url(ui, lineage) == url


@pytest.mark.parametrize("ui, lineage", [
    ("javascript:alert(1)", Lineage(RUN_ID, "1")),
    ("http://", Lineage(RUN_ID, "1")),
    ("mlflow:5000", Lineage(RUN_ID, "1")),
    ("http://mlflow", Lineage("../../etc", "1")),
    ("http://mlflow", Lineage(RUN_ID + "\n", "1")),
    ("http://mlflow", Lineage(RUN_ID[:-1], "1")),
    ("http://mlflow", Lineage(RUN_ID, "1/../../x")),
    ("http://mlflow", Lineage(RUN_ID, "")),
    ("http://mlflow", None),
])
def test_deep_link_refuses_unsafe_parts(ui, lineage):
    assert mlflow_run_url(ui, lineage) is None


def test_payloads_are_validated_per_type():
    assert validate_payload("signal", {"action": "SELL", "confidence": 0, "x": 1})["x"] == 1
    with pytest.raises(ValidationError):
        validate_payload("order", {"side": "HOLD", "quantity": 1, "order_type": "MKT"})
    with pytest.raises(ValidationError):
        validate_payload("llm", {"prompt": "p"})
    with pytest.raises(ValidationError, match="together"):
        NewArtifact(type="signal", name="s", run_id=RUN_ID,
                    payload={"action": "BUY", "confidence": 1})


def test_images_are_checked_by_content():
    with pytest.raises(InvalidImage):
        sniff_image(b"GIF89a but not really")
    with pytest.raises(InvalidImage):
        sniff_image(b"%PDF-1.4")


def test_blob_keys_cannot_name_paths(tmp_path):
    store = LocalBlobStore(tmp_path)
    for key in ("../../etc/passwd", "a" * 64 + ".png/../x", ""):
        with pytest.raises(KeyError):
            store.get(key)


def test_cursors_round_trip_and_reject_forgeries():
    assert decode_cursor(encode_cursor(42)) == 42
    for bad in ("", "!!", encode_cursor(42)[:-1] + "$", "aWQ6LTE"):
        with pytest.raises(InvalidCursor):
            decode_cursor(bad)


def test_inferred_chain_links_charts_to_the_market_data_stored_before_them():
    def row(id_, type_, **payload):
        return SimpleNamespace(id=id_, type=type_, symbol="TSLA", payload=payload)

    rows = [row(1, "chart", chart_type="daily"),  # before any market data: no edge
            row(2, "market_data"), row(3, "chart", chart_type="daily"),
            row(4, "chart", chart_type="weekly"), row(5, "llm"), row(6, "signal")]
    assert sorted(infer_chain(rows)) == [(3, 2), (4, 2), (5, 3), (5, 4), (6, 5)]


@pytest.mark.parametrize("name, symbol, payload, image", [
    ("TSLA daily chart", "TSLA", {"chart_type": "daily", "indicators": {"rsi": 61.2}}, None),
    ("analyse \"quoted\" \\ é ✓", None, {"z": [1, 2.5, None], "a": {"b": "ü", "c": True}},
     "ab" * 32),
    ("empty", "X", {}, None),
])
def test_content_hash_is_the_sha256_of_the_canonical_content_object(name, symbol, payload,
                                                                   image):
    # The bulk writer hashes a payload given as canonical text: it must agree byte for byte
    # with the canonical JSON of the whole content object, or stored hashes stop verifying.
    content = {"v": HASH_VERSION, "type": "chart", "name": name, "symbol": symbol,
               "payload": payload, "image_sha256": image}
    expected = hashlib.sha256(canonical_json(content)).hexdigest()
    assert content_hash("chart", name, symbol, payload, image) == expected
    text = canonical_payload(payload, json_native=True)
    assert hash_with_payload_json("chart", name, symbol, text, image) == expected
    assert canonical_payload({"t": (1, 2), 3: "x"}) == '{"3":"x","t":[1,2]}'
