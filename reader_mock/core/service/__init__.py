"""The mock's domain operations: :class:`Service`, one object per resource of the API.

Each operation takes plain values (the API key, the parsed JSON body, integers, the public base
URL for pagination links), settles the caller's workspace up to the clock's current time, checks
everything before it changes anything, and returns the ``data`` of the contract's success envelope
(a :class:`Paginated` for lists, an :class:`EncodedPage` where ``data`` comes encoded) or raises
:class:`~reader_mock.core.errors.ApiError`.
"""

from typing import TYPE_CHECKING

from ..._lazy import lazy_exports
from ._pages import DEFAULT_LIMIT, MAX_LIMIT, EncodedPage, Paginated
from ._reads import ReadOutcome
from ._service import Service

if TYPE_CHECKING:
    from ._streams import JobWatch

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "EncodedPage",
    "JobWatch",
    "Paginated",
    "ReadOutcome",
    "Service",
]

# What only the streams use loads with the first of them.
__getattr__, __dir__ = lazy_exports(__name__, {"_streams": ["JobWatch"]})
