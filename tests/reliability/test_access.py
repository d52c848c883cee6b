"""Access: with PROVENANT_API_TOKEN set every write needs it, and the token never leaks."""
from __future__ import annotations

from fastapi.routing import iter_route_contexts

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def write_routes(app) -> list[tuple[str, str]]:
    """(method, path) of every route that is not a read, as the app itself lists them."""
    return sorted((method, route.path) for route in iter_route_contexts(app.routes)
                  for method in getattr(route, "methods", None) or ()
                  if method not in READ_METHODS)
