"""The reference HQ: an ASGI app (Starlette on uvicorn) over one store interface with two
backends, SQLite (the embedded default) and PostgreSQL (a chain), selected by database URL."""
