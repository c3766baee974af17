"""The central intake service (hub): FastAPI app, SQLite/PostgreSQL store, demo resolvers.

`create_app` (app.py) builds the ASGI app; `start_hub_in_thread` / `serve` (server.py) run it.
"""
