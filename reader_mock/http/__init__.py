"""Quart adapters for the core: the app factory and one thin route per operation."""

from .app import AppState, app_state, close_streams, create_app, reset_app

__all__ = ["AppState", "app_state", "close_streams", "create_app", "reset_app"]
