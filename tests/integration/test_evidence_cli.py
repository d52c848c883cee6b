"""`provenant evidence export/verify` as real subprocesses: a bundle, then tampered ones."""
from __future__ import annotations

import json
import zipfile

import pytest
from mlflow.tracking import MlflowClient

from provenant import runtime
from tests.support.chain import store_chain
from tests.support.cli import cli


@pytest.fixture
def database_url(tmp_path) -> str:
    """SQLite only: the bundle is read offline; the chain's queries run on both databases in
    test_provenance."""
    return f"sqlite:///{tmp_path / 'provenant.db'}"


@pytest.fixture
def chain(services):
    stored = store_chain(services)
    MlflowClient(services.settings.mlflow_tracking_uri).log_param(
        stored["order"].run_id, "symbol", "TSLA")
    return stored


def _rewrite(source, target, **replace: bytes) -> None:
    """A copy of a zip with some members' bytes replaced (manifest left as it was)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for name in old.namelist():
            new.writestr(name, replace.get(name, old.read(name)))


def _one_error_line(done) -> str:
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    return lines[0]


def test_export_then_verify_a_bundle_of_the_whole_chain(services, chain, tmp_path):
    bundle = tmp_path / "bundle.zip"
    done = cli(services, "evidence", "export", str(chain["order"].id), "-o", str(bundle))
    assert done.returncode == 0, done.stderr
    assert "5 artifact(s), 1 MLflow run(s)" in done.stderr

    with zipfile.ZipFile(bundle) as z:
        manifest = json.loads(z.read("manifest.json"))
        names = set(z.namelist())
        run = json.loads(z.read(f"runs/{chain['order'].run_id}.json"))
        index = z.read("index.html").decode()
        order = json.loads(z.read(f"artifacts/{chain['order'].id}.json"))
    ids = {a.id for a in chain.values()}
    assert {a["id"] for a in manifest["artifacts"]} == ids
    assert {f"artifacts/{i}.json" for i in ids} <= names
    assert {f"images/{chain['daily'].id}.png", f"images/{chain['weekly'].id}.png",
            "audit.json", "index.html"} <= names
    assert set(manifest["files"]) == names - {"manifest.json"}
    assert len(manifest["edges"]) == 4
    assert order["inputs"] == [chain["signal"].id] and order["payload"]["side"] == "BUY"
    assert run["params"] == {"symbol": "TSLA"} and run["tags"]["workflow_id"]
    assert f'href="#a{chain["llm"].id}"' in index and "verified" in index

    checked = cli(services, "evidence", "verify", str(bundle))
    assert checked.returncode == 0, checked.stderr
    assert "bundle verified: nothing changed" in checked.stderr
    as_json = json.loads(cli(services, "evidence", "verify", str(bundle), "--json").stdout)
    assert as_json["artifacts"] == 5 and as_json["problems"] == []


def test_a_tampered_bundle_fails_naming_what_changed(services, chain, tmp_path):
    bundle = tmp_path / "bundle.zip"
    runtime.export_evidence(services, chain["order"].id, bundle)
    with zipfile.ZipFile(bundle) as z:
        signal_file = f"artifacts/{chain['signal'].id}.json"
        signal = json.loads(z.read(signal_file))
    signal["payload"]["action"] = "SELL"
    edited = tmp_path / "edited.zip"
    weekly_image = f"images/{chain['weekly'].id}.png"
    _rewrite(bundle, edited, **{signal_file: json.dumps(signal).encode(),
                                weekly_image: b"\x89PNG\r\n\x1a\nnot the chart"})

    done = cli(services, "evidence", "verify", str(edited), "--json")
    assert done.returncode == 1
    problems = json.loads(done.stdout)["problems"]
    assert f"{signal_file} changed: its SHA-256 is not the manifest's" in problems
    assert any(p.startswith(f"artifact {chain['signal'].id} (signal 'signal'): its content "
                            "does not match") for p in problems)
    assert f"artifact {chain['weekly'].id}: image {weekly_image} does not match its sha256" \
        in problems
    assert len(problems) == 4  # two files, one content hash, one image; nothing else
    assert f"{signal_file} changed" in _one_error_line(done)


@pytest.mark.parametrize("damage", ["truncated", "not a zip", "no manifest", "missing"])
def test_an_unreadable_bundle_is_one_line_and_exit_1(services, chain, tmp_path, damage):
    bundle = tmp_path / "bundle.zip"
    runtime.export_evidence(services, chain["signal"].id, bundle)
    target = tmp_path / "damaged.zip"
    if damage == "truncated":
        target.write_bytes(bundle.read_bytes()[: bundle.stat().st_size // 2])
    elif damage == "not a zip":
        target.write_text("hello")
    elif damage == "no manifest":
        with zipfile.ZipFile(target, "w") as z:
            z.writestr("index.html", "<p>hi</p>")
    line = _one_error_line(cli(services, "evidence", "verify", str(target)))
    expected = {"truncated": "is not a readable evidence bundle",
                "not a zip": "is not a readable evidence bundle",
                "no manifest": "has no manifest.json", "missing": "cannot be opened"}[damage]
    assert expected in line and str(target) in line


def test_exporting_an_unknown_artifact_or_to_a_folder_writes_nothing(services, chain,
                                                                     tmp_path):
    bundle = tmp_path / "bundle.zip"
    line = _one_error_line(cli(services, "evidence", "export", "424242", "-o", str(bundle)))
    assert "artifact 424242 not found" in line
    assert not bundle.exists() and list(tmp_path.glob("*.zip*")) == []
    folder = _one_error_line(cli(services, "evidence", "export", str(chain["order"].id),
                                 "-o", str(tmp_path)))
    assert f"{tmp_path} is a folder" in folder
    usage = cli(services, "evidence", "export", "0", "-o", str(bundle))
    assert usage.returncode == 2 and "Usage:" in usage.stderr
