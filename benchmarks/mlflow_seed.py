"""Many MLflow runs fast: make one real run, then clone its rows in the server's SQLite store."""
from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.engine import make_url

from provenant.adapters.mlflow_tracker import EXECUTION_TAG, WORKFLOW_TAG


@dataclass(frozen=True)
class SeededRun:
    run_id: str
    experiment_id: str
    execution_id: str
    start_time: int
    artifact_uri: str = ""


def seed_runs(client, backend_uri: str, experiment_name: str, workflow_id: str,
              execution_ids: Sequence[str], *, duplicates_every: int = 0,
              tags_of: Callable[[str], dict[str, str]] = lambda execution_id: {}
              ) -> dict[str, SeededRun]:
    """One tagged run per execution id (and an older duplicate every `duplicates_every`);
    `tags_of(execution_id)` adds tags of its own.

    The first run goes through the real API; the others copy its rows with new ids,
    names, tags and start times, so they are exactly what MLflow itself would have
    stored. Returns the newest run of each execution id (the one a repair must pick).
    """
    experiment_id = client.create_experiment(experiment_name)
    template = client.create_run(experiment_id, run_name="template",
                                 tags={WORKFLOW_TAG: workflow_id, EXECUTION_TAG: "template"})
    template_id = template.info.run_id
    client.set_terminated(template_id, "FINISHED")
    con = sqlite3.connect(make_url(backend_uri).database, timeout=60)
    try:
        con.row_factory = sqlite3.Row
        run_row = dict(con.execute("SELECT * FROM runs WHERE run_uuid = ?",
                                   (template_id,)).fetchone())
        base_time = run_row["start_time"]
        runs, tags, newest = [], [], {}
        for n, execution_id in enumerate(execution_ids):
            older = duplicates_every and n % duplicates_every == 0
            for start_time in ((base_time - 10**7 + n, base_time + n) if older
                               else (base_time + n,)):
                run_id = uuid.uuid4().hex
                runs.append({**run_row, "run_uuid": run_id, "name": execution_id[:250],
                             "start_time": start_time, "end_time": start_time + 1000,
                             "artifact_uri": run_row["artifact_uri"].replace(template_id, run_id)})
                tags += [(WORKFLOW_TAG, workflow_id, run_id),
                         (EXECUTION_TAG, execution_id, run_id),
                         ("mlflow.runName", execution_id[:250], run_id),
                         *((key, value, run_id) for key, value in tags_of(execution_id).items())]
                newest[execution_id] = SeededRun(
                    run_id, str(experiment_id), execution_id, start_time,
                    run_row["artifact_uri"].replace(template_id, run_id))
        columns = list(run_row)
        with con:
            con.executemany(
                f"INSERT INTO runs ({', '.join(columns)}) VALUES "
                f"({', '.join(':' + c for c in columns)})", runs)
            con.executemany('INSERT INTO tags ("key", value, run_uuid) VALUES (?, ?, ?)', tags)
    finally:
        con.close()
    client.delete_run(template_id)  # not one of the executions: keep it out of searches
    return newest
