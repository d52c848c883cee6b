"""A job's `--json` report written as the job goes: one valid JSON document whose long lists
never sit in memory (a million repaired or imported ids would)."""
from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from pydantic import BaseModel


class StreamedJson:
    """A ReportSink writing one JSON object to `out`.

    The `streamed` list goes straight to `out`; the other `spooled` lists go to temporary
    files (their items arrive interleaved with the streamed one) and are copied in after
    it; `finish` adds the report's other fields. Items are one per line.
    """

    def __init__(self, out: IO[str], streamed: str, spooled: tuple[str, ...]) -> None:
        self.out, self.streamed = out, streamed
        self.counts: Counter[str] = Counter()
        self._spools = {key: tempfile.TemporaryFile("w+", encoding="utf-8") for key in spooled}
        self.started = self._done = False

    def _start(self) -> None:
        # Not before the first item: a job that fails at once (bad URL) prints no JSON at all.
        if not self.started:
            self.started = True
            self.out.write("{\n  " + json.dumps(self.streamed) + ": [")

    def add(self, key: str, item: Any) -> None:
        if not self.started:
            self._start()
        if type(item) is int:  # most items are ids: a million of them, so no json.dumps
            text = str(item)
        else:
            text = json.dumps(item.model_dump(mode="json") if isinstance(item, BaseModel)
                              else item, default=str)
        count = self.counts[key]
        if key == self.streamed:
            self.out.write(",\n    " + text if count else "\n    " + text)
        else:
            self._spools[key].write(text + "\n")
        self.counts[key] = count + 1

    def finish(self, fields: dict[str, Any]) -> None:
        """Close the lists and the object; `fields` are the report's other keys."""
        if self._done:
            return
        self._done = True
        self._start()
        self.out.write("\n  ]" if self.counts[self.streamed] else "]")
        for key, spool in self._spools.items():
            self.out.write(",\n  " + json.dumps(key) + ": [")
            spool.seek(0)
            for n, line in enumerate(spool):
                self.out.write(("," if n else "") + "\n    " + line.rstrip("\n"))
            self.out.write("\n  ]" if self.counts[key] else "]")
            spool.close()
        for key, value in fields.items():
            if key != self.streamed and key not in self._spools:
                self.out.write(",\n  " + json.dumps(key) + ": " + json.dumps(value, default=str))
        self.out.write("\n}\n")
        self.out.flush()


@contextmanager
def streamed_report(out: IO[str], streamed: str, spooled: tuple[str, ...],
                    failure_fields: dict[str, Any]) -> Iterator[StreamedJson]:
    """A StreamedJson that is closed even when the job fails half way: the document stays
    valid, `failure_fields` plus `errors` saying why (and the command still fails). A job
    that fails before its first item writes nothing, as a command that fails at once."""
    sink = StreamedJson(out, streamed, spooled)
    try:
        yield sink
    except BaseException as exc:
        if not sink.started:
            raise
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        sink.finish({**failure_fields, "errors": [why]})
        raise

