"""The import structure holds (no package cycles, bootstrap only in entrypoints, api/web apart)."""
from __future__ import annotations

from pathlib import Path

from provenant.devtools import imports


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_package_keeps_its_import_rules():
    assert imports.problems() == []


def test_each_rule_is_enforced(tmp_path):
    root = _tree(tmp_path / "provenant", {
        "__init__.py": "",
        "bootstrap.py": "",
        "lineage/__init__.py": "from provenant.bootstrap import get_services\n",
        "lineage/context.py": "def f():\n    from provenant.bootstrap import x\n",
        "store/__init__.py": "", "store/repo.py": "from provenant.service import use\n",
        "service/__init__.py": "", "service/use.py": "from provenant.store.repo import R\n",
        "http/__init__.py": "", "http/api/__init__.py": "",
        "http/api/a.py": "from ..web import b\n", "http/web/__init__.py": "",
        "http/web/b.py": "",
    })
    found = imports.problems(root)
    assert "provenant.lineage.context imports provenant.bootstrap (only entrypoints may)" in found
    assert not any(line.startswith("provenant.lineage.__init__") for line in found)
    assert "provenant.http.api.a imports provenant.http.web: api and web are siblings" in found
    assert ("import cycle between packages: provenant.service -> provenant.store -> "
            "provenant.service") in found
