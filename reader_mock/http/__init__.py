"""Quart adapters for the core: the app factory and one thin route per operation."""

from ._control import Fault, fault_from
from .app import AppState, app_state, close_streams, create_app, halt_streams, reset_app

__all__ = [
    "AppState",
    "Fault",
    "app_state",
    "close_streams",
    "create_app",
    "fault_from",
    "halt_streams",
    "reset_app",
]
