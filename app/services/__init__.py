"""Use cases, one package per area (requests, tasks, definitions, audit, reports, admin) plus the worker. Each public
function receives the small `context.Context` (never the composition root), opens one unit of work, checks permissions
with `app.domain.permissions`, and commits or changes nothing. Services return data, never HTML."""
