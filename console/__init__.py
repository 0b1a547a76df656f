"""The console: the FastAPI application (HTTP API and web UI) on top of a store.

Build it with :func:`console.app.create_app`.
"""
