"""The HTTP front end: FastAPI over the engine (``create_app``), run by ``qa serve`` (``serve``)."""

from bots.http.server import create_app, serve

__all__ = ["create_app", "serve"]
