"""S3 through the `s3` extra against a real S3-compatible server process (moto_server): the blob
store behind the API, and the importer fetching the previous system's s3:// chart images."""
from __future__ import annotations

import json

import pytest

from provenant import runtime
from provenant.adapters.image_fetch import ImageFetchFailed, ImageFetchRefused, S3ImageReader
from tests.support.api import AUTH, png_bytes, signal_body
from tests.support.cli import cli
from tests.support.legacy_db import LegacyDb, chart_row, sqlite_legacy_url
from tests.support.s3_server import S3_ENV, s3_server


@pytest.fixture
def s3(monkeypatch):
    with s3_server(monkeypatch) as server:
        yield server


def test_the_api_stores_chart_images_in_s3_and_serves_them_back(api_settings, start_api, s3):
    s3.bucket("charts")
    api = start_api(api_settings(blob_store_url="s3://charts/provenant/images",
                                 s3_endpoint_url=s3.endpoint_url))
    chart = api.post("/api/artifacts", headers=AUTH, json=signal_body(
        type="chart", name="TSLA daily", payload={"chart_type": "daily"}))
    assert chart.status_code == 201, chart.text
    image = png_bytes()
    stored = api.put(f"/api/artifacts/{chart.json()['id']}/image", content=image,
                     headers={**AUTH, "Content-Type": "image/png"})
    assert stored.status_code == 200, stored.text

    served = api.get(f"/api/artifacts/{chart.json()['id']}/image")
    assert served.status_code == 200 and served.content == image
    assert served.headers["content-type"] == "image/png"
    keys = [o["Key"] for o in s3.client().list_objects_v2(Bucket="charts")["Contents"]]
    assert len(keys) == 1 and keys[0].startswith("provenant/images/")  # under the prefix
    report = runtime.verify(api.app.state.services)  # the content check reads S3 too
    assert report.ok, report


def test_import_fetches_s3_images_and_minio_urls_mapped_to_s3(sqlite_services, tmp_path, s3):
    image = png_bytes()
    s3.bucket("trading-charts", {"charts/TSLA/daily/a.png": image,
                                 "charts/TSLA/weekly/b.png": png_bytes((1, 2, 3)),
                                 "charts/TSLA/daily/plot.png": b"<html><div>plotly</div>"})
    s3.bucket("elsewhere", {"x.png": image})
    source = sqlite_legacy_url(tmp_path / "old.db")
    LegacyDb(source).add(
        chart_row(1, image_path="s3://trading-charts/charts/TSLA/daily/a.png"),
        chart_row(2, image_path="http://minio:9000/trading-charts/charts/TSLA/weekly/b.png"),
        chart_row(3, image_path="s3://trading-charts/charts/TSLA/daily/plot.png"),
        chart_row(4, image_path="s3://trading-charts/charts/TSLA/daily/gone.png"),
        chart_row(5, image_path="s3://elsewhere/x.png")).close()

    result = cli(sqlite_services, "artifacts", "import-legacy", "--from", source, "--json",
                 "--fetch-images-from", "s3://trading-charts/charts/",
                 "--image-path-map", "http://minio:9000/trading-charts=s3://trading-charts",
                 PROVENANT_S3_ENDPOINT_URL=s3.endpoint_url, **S3_ENV)

    assert result.returncode == 0, result.stderr  # every row imported; images may warn
    report = json.loads(result.stdout)
    assert report["imported"] == [1, 2, 3, 4, 5] and report["failed"] == []
    warnings = {w["id"]: w["reason"] for w in report["warnings"]}
    assert sorted(warnings) == [3, 4, 5]
    assert "HTML" in warnings[3] and "NoSuchKey" in warnings[4]
    assert "not under an allowed image prefix" in warnings[5]
    repo, blobs = sqlite_services.artifacts, sqlite_services.blobs
    assert blobs.get(repo.image_of(1)[0]) == image
    assert blobs.get(repo.image_of(2)[0]) == png_bytes((1, 2, 3))
    assert not any(repo.get(i).has_image for i in (3, 4, 5))
    assert repo.get(2).payload["legacy_image_path"].startswith("http://minio:9000/")


def test_s3_reads_are_bounded_and_stay_under_their_prefix(s3):
    s3.bucket("trading-charts", {"charts/big.png": b"x" * 5000})
    reader = S3ImageReader(s3.endpoint_url)
    allowed = ["s3://trading-charts/charts/"]
    assert reader.fetch("s3://trading-charts/charts/big.png", allowed) == b"x" * 5000
    with pytest.raises(ImageFetchRefused, match="larger than 100 bytes"):
        reader.fetch("s3://trading-charts/charts/big.png", allowed, max_bytes=100)
    with pytest.raises(ImageFetchRefused, match="normal form"):
        reader.fetch("s3://trading-charts/charts/../secret.png", allowed)
    with pytest.raises(ImageFetchFailed, match="NoSuchBucket"):
        reader.fetch("s3://nobucket/charts/a.png", ["s3://nobucket/"])
