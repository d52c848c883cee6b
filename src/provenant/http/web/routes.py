"""Web UI routes: the artifacts list and the Artifact Detail drawer (server-rendered)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader

from provenant.http.deps import ArtifactId, HydratorDep, ServicesDep
from provenant.domain.artifacts import ArtifactType
from provenant.store.repository import ArtifactRepository
from provenant.http.web import format as fmt
from provenant.http.web.chain import VERIFICATION_HELP, VERIFICATION_WORDS, chain_view
from provenant.http.web.drawer import STATUS_WORDS, body_of, lineage_view
from provenant.http.web.listing import (
    LINEAGE_FILTERS, BadListQuery, ListQuery, fetch_page, group_by_execution, parse_list_query,
)

# Autoescape everywhere: artifact names, prompts and responses are untrusted text.
_env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                   autoescape=True, trim_blocks=True, lstrip_blocks=True)
_env.filters.update(show=fmt.show, time=fmt.show_time)
_env.globals.update(status_words=STATUS_WORDS, artifact_types=list(ArtifactType),
                    lineage_filters=LINEAGE_FILTERS, verification_words=VERIFICATION_WORDS,
                    verification_help=VERIFICATION_HELP)
templates = Jinja2Templates(env=_env)

router = APIRouter(include_in_schema=False)
SIBLINGS_SHOWN = 50
# Defence in depth behind autoescaping: the pages have no inline script or style and load
# nothing from elsewhere, so a browser refuses any markup that slipped through.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; object-src 'none'; base-uri 'none'; "
                               "form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}


@router.get("/")
def home() -> RedirectResponse:
    """The UI starts at the artifacts list."""
    return RedirectResponse("/artifacts", status_code=307)


@router.get("/artifacts", response_class=HTMLResponse)
def artifacts_page(request: Request, services: ServicesDep) -> HTMLResponse:
    """The artifacts list with its filters, grouping and paging."""
    return _page(request, services.artifacts, drawer=None)


def drawer_of(request: Request, artifact_id: ArtifactId, services: ServicesDep,
              hydrator: HydratorDep) -> dict[str, Any] | None:
    """Everything the drawer shows, or None for an unknown id; reading it hydrates lineage."""
    artifact = services.artifacts.get(artifact_id)
    if artifact is None:
        return None
    artifact, status = hydrator.hydrate(artifact)  # bounded in time, never raises
    siblings = ([a for a in services.artifacts.by_execution(artifact.execution_id)
                 if a.id != artifact.id and a.workflow_id == artifact.workflow_id]
                if artifact.execution_id else [])
    try:
        list_query = parse_list_query(request.query_params).query_string()
    except BadListQuery:
        list_query = ""
    return {"artifact": artifact, "body": body_of(artifact), "list_query": list_query,
            "lineage": lineage_view(artifact, status, services.settings.mlflow_ui_url),
            "siblings": siblings[:SIBLINGS_SHOWN], "more_siblings": len(siblings) > SIBLINGS_SHOWN,
            "chain": chain_view(services, artifact)}


DrawerDep = Annotated[dict[str, Any] | None, Depends(drawer_of)]


@router.get("/artifacts/{artifact_id}", response_class=HTMLResponse)
def artifact_page(request: Request, artifact_id: ArtifactId, services: ServicesDep,
                  drawer: DrawerDep) -> HTMLResponse:
    """The list page with this artifact's drawer open (a shareable link)."""
    if drawer is None:
        return _page(request, services.artifacts, drawer=None, status=404,
                     error=f"Artifact {artifact_id} does not exist.")
    return _page(request, services.artifacts, drawer=drawer)


@router.get("/artifacts/{artifact_id}/drawer", response_class=HTMLResponse)
def artifact_drawer(request: Request, artifact_id: ArtifactId, drawer: DrawerDep) -> HTMLResponse:
    """Only the drawer, for the page's script to swap in without a reload."""
    if drawer is None:
        return HTMLResponse(f"Artifact {artifact_id} does not exist.", status_code=404,
                            headers=SECURITY_HEADERS)
    return templates.TemplateResponse(request, "_drawer.html", {"d": drawer},
                                      headers=SECURITY_HEADERS)


def _page(request: Request, repository: ArtifactRepository, drawer: dict[str, Any] | None,
          status: int = 200, error: str | None = None) -> HTMLResponse:
    context: dict[str, Any] = {"drawer": drawer, "error": error, "items": [], "groups": [],
                               "next_cursor": None, "query": ListQuery()}
    try:
        query = parse_list_query(request.query_params)
        items, next_cursor = fetch_page(repository, query)
        context.update(query=query, items=items, next_cursor=next_cursor,
                       groups=group_by_execution(items) if query.group else [])
    except BadListQuery as exc:
        context["error"], status = str(exc), 400
    return templates.TemplateResponse(request, "artifacts.html", context, status_code=status,
                                      headers=SECURITY_HEADERS)
