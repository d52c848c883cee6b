"""The evidence bundle's index.html: one self-contained page, readable offline."""
from __future__ import annotations

import json

from jinja2 import Environment

from provenant.domain.provenance import Provenance

# Inline: the page must open from an unzipped folder with no server and no network.
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Evidence: artifact {{ chain.artifact_id }}</title>
<style>
body{font:14px system-ui,sans-serif;margin:2em;max-width:70em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.3em .6em;
text-align:left;vertical-align:top}code,pre{font:12px ui-monospace,monospace}
pre{background:#f6f6f6;padding:.6em;overflow:auto;max-height:30em}
.verified{color:#16632e}.changed{color:#a11;font-weight:bold}.unverifiable{color:#8a6d00}
img{max-width:100%;border:1px solid #ddd}
</style></head><body>
<h1>Why does artifact {{ chain.artifact_id }} exist?</h1>
<p>The decision chain of artifact {{ chain.artifact_id }}, as exported from Provenant.
Check it with <code>provenant evidence verify BUNDLE.zip</code>: every file below is listed
with its SHA-256 in <code>manifest.json</code>.</p>
<h2>Decision chain</h2>
<table><tr><th>links up</th><th>artifact</th><th>type</th><th>name</th><th>step</th>
<th>derived from</th><th>MLflow run</th><th>content SHA-256</th><th>state at export</th></tr>
{% for n in chain.nodes %}<tr><td>{{ n.depth }}</td><td><a href="#a{{ n.id }}">{{ n.id }}</a></td>
<td>{{ n.type }}</td><td>{{ n.name }}</td><td>{{ n.step_name or "" }}</td>
<td>{% for e in inputs[n.id] %}<a href="#a{{ e.input_id }}">{{ e.input_id }}</a>{% if e.inferred %}
(inferred){% endif %} {% endfor %}</td>
<td>{% if n.run_id %}<a href="#r{{ n.run_id }}">{{ n.run_id }}</a> ({{ n.lineage.status }}){% else %}
{{ n.lineage.status }}{% endif %}</td><td><code>{{ n.content_sha256 or "none" }}</code></td>
<td class="{{ n.verification.value }}">{{ n.verification.value }}{% for p in n.problems %}<br>{{ p }}
{% endfor %}</td></tr>{% endfor %}</table>
{% if chain.truncated %}<p class="changed">The chain was cut at its size bound.</p>{% endif %}
<h2>Artifacts</h2>
{% for n in chain.nodes %}<h3 id="a{{ n.id }}">{{ n.id }}: {{ n.type }} {{ n.name }}</h3>
<p>execution <code>{{ n.execution_id or "" }}</code>, stored {{ n.created_at }}.
File <code>artifacts/{{ n.id }}.json</code>.</p><pre>{{ records[n.id] }}</pre>
{% if images[n.id] %}<img src="{{ images[n.id] }}" alt="image of artifact {{ n.id }}">{% endif %}
{% endfor %}
<h2>MLflow runs</h2>
{% for run in runs %}<h3 id="r{{ run.run_id }}">{{ run.run_id }}</h3>
<pre>{{ run_files[run.run_id] }}</pre>{% endfor %}
<h2>Lineage audit rows</h2>
{% if audit %}<table><tr><th>artifact</th><th>run</th><th>source</th><th>when</th></tr>
{% for r in audit %}<tr><td>{{ r.artifact_id }}</td><td>{{ r.run_id }}</td><td>{{ r.source }}</td>
<td>{{ r.repaired_at }}</td></tr>{% endfor %}</table>
{% else %}<p>None: every artifact's lineage was recorded when it was stored.</p>{% endif %}
<h2>Content revisions</h2>
{% if revisions %}<p>Recorded changes of content after it was stored (file
<code>revisions.json</code>); each starts from the hash the one before left, and the last
ends at the artifact's content SHA-256.</p>
<table><tr><th>artifact</th><th>source</th><th>changed</th><th>old SHA-256</th><th>new SHA-256</th>
<th>when</th></tr>{% for r in revisions %}<tr><td>{{ r.artifact_id }}</td><td>{{ r.source }}</td>
<td>{{ r.changed | join(", ") }}</td><td><code>{{ r.old_sha256 or "none" }}</code></td>
<td><code>{{ r.new_sha256 or "none" }}</code></td><td>{{ r.revised_at }}</td></tr>
{% endfor %}</table>
{% else %}<p>None: no content changed after it was stored.</p>{% endif %}
</body></html>
"""

_TEMPLATE = Environment(autoescape=True).from_string(_PAGE)


def render_index(chain: Provenance, files: dict[str, bytes], runs: list[dict],
                 audit: list[dict], revisions: list[dict]) -> str:
    """The page: the chain as a table, each artifact's JSON and image, runs, audit rows and
    content revisions."""
    images = {n.id: next((name for name in files if name.startswith(f"images/{n.id}.")), None)
              for n in chain.nodes}
    return _TEMPLATE.render(
        chain=chain, runs=runs, audit=audit, revisions=revisions, images=images,
        inputs={n.id: [e for e in chain.edges if e.artifact_id == n.id] for n in chain.nodes},
        records={n.id: files[f"artifacts/{n.id}.json"].decode() for n in chain.nodes},
        run_files={r["run_id"]: json.dumps(json.loads(files[r["file"]]), indent=2)
                   for r in runs})
