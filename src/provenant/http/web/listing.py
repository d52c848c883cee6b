"""The artifacts list: filters from the query string, one keyset page, optional grouping."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from urllib.parse import urlencode

from provenant.domain.artifacts import Artifact, ArtifactType
from provenant.store.repository import ArtifactRepository

LINEAGE_FILTERS = {"persisted": "Captured", "repaired": "Repaired", "pending": "Pending"}
GROUPS = ("", "execution")
PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
_TEXT_FILTERS = ("symbol", "workflow_id", "execution_id")


class BadListQuery(ValueError):
    """A filter, cursor or page size the list cannot use; the message says which."""


@dataclass(frozen=True)
class ListQuery:
    """The list's state, all of it in the URL so that every view is shareable."""

    type: str = ""
    symbol: str = ""
    workflow_id: str = ""
    execution_id: str = ""
    lineage: str = ""
    group: str = ""
    cursor: str = ""
    limit: int = PAGE_SIZE

    def query_string(self, **changes: str | int) -> str:
        """`?a=b&...` for this view with `changes` applied; defaults are left out."""
        values = asdict(replace(self, **changes))
        kept = {k: v for k, v in values.items()
                if v not in ("", None) and not (k == "limit" and v == PAGE_SIZE)}
        return f"?{urlencode(kept)}" if kept else ""

    @property
    def filtered(self) -> bool:
        return any((self.type, self.symbol, self.workflow_id, self.execution_id, self.lineage))


def parse_list_query(params: Mapping[str, str]) -> ListQuery:
    """Read and check the list's query parameters; raise BadListQuery with a reason."""
    text = {k: (params.get(k) or "").strip() for k in
            ("type", "lineage", "group", "cursor", *_TEXT_FILTERS)}
    if any("\x00" in value for value in text.values()):  # PostgreSQL cannot even compare it
        raise BadListQuery("filters cannot contain NUL characters")
    if text["type"] and text["type"] not in ArtifactType.__members__:
        raise BadListQuery(f"unknown artifact type {text['type']!r}; expected one of "
                           f"{', '.join(ArtifactType.__members__)}")
    if text["lineage"] and text["lineage"] not in LINEAGE_FILTERS:
        raise BadListQuery(f"unknown lineage state {text['lineage']!r}; expected one of "
                           f"{', '.join(LINEAGE_FILTERS)}")
    if text["group"] not in GROUPS:
        raise BadListQuery(f"unknown grouping {text['group']!r}; expected 'execution'")
    raw_limit = params.get("limit") or str(PAGE_SIZE)
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_PAGE_SIZE:
        raise BadListQuery(f"limit must be a whole number from 1 to {MAX_PAGE_SIZE}")
    return ListQuery(limit=int(raw_limit), **text)


def fetch_page(repository: ArtifactRepository,
               query: ListQuery) -> tuple[list[Artifact], str | None]:
    """One page of stored artifacts (no tracking calls: lists show stored lineage)."""
    filters = {k: getattr(query, k) or None for k in ("type", *_TEXT_FILTERS)}
    try:
        return repository.list(limit=query.limit, cursor=query.cursor or None,
                               lineage=query.lineage or None, **filters)
    except ValueError as exc:  # InvalidCursor among them
        raise BadListQuery(f"{exc}: start again from the first page") from None


def group_by_execution(items: list[Artifact]) -> list[tuple[str | None, list[Artifact]]]:
    """The page's artifacts by execution, executions in order of their newest artifact."""
    groups: dict[str | None, list[Artifact]] = {}
    for item in items:
        groups.setdefault(item.execution_id, []).append(item)
    return list(groups.items())
