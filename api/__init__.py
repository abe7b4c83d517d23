"""API: the HTTP layer (app factory, dependencies, problem+json errors, routers)."""
