"""The HTTP face: the app factory, middleware and dependencies; `api/` and `web/` are
sibling routers that never import each other."""
