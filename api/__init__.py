"""The HTTP service (FastAPI): ``from api.app import create_app``.

Modules: ``app`` (factory), ``settings`` (env + file), ``auth`` (API keys, roles), ``problems``
(RFC 9457 errors), ``deps`` (dependencies), ``cache`` (per-version indexes), ``jobs`` (worker
pool), ``results`` (exports), ``geojson`` (layer encoding, feature edits), ``routers/`` (endpoints),
``web`` (the planners' page and maps, from the maps area).
"""
