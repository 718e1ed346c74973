"""The SSE wire layer: the frame codec and scripted drops. It knows nothing of the contract.

- :mod:`.encoder` turns events and comments into bytes (pure);
- :mod:`.decoder` decodes bytes exactly as WHATWG HTML section 9.2 says, and reports the framing;
- :mod:`.drops` ends connections the scripted ways (clean end, truncated body, cut inside a
  frame, TCP reset through :mod:`.tcp_reset`) as an ASGI middleware.

The stream checker, which holds the bytes against the contract, is
:mod:`reader_mock.contract.streams`. The names below load on first use: the decoder does not
pay for the drops' asyncio and sockets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reader_mock._lazy import lazy_exports

if TYPE_CHECKING:
    from .decoder import (
        Block,
        Comment,
        Decoded,
        Decoder,
        Event,
        Field,
        IgnoredLine,
        IgnoredReason,
        StreamEnd,
        decode,
    )
    from .drop_kinds import DropKind
    from .drops import Drop, DropMiddleware, DropReport
    from .encoder import (
        CONTENT_TYPE,
        STREAM_HEADERS,
        Message,
        encode_comment,
        encode_event,
        encode_json_event,
        encode_many,
        json_text,
    )

__all__ = [
    "CONTENT_TYPE",
    "STREAM_HEADERS",
    "Block",
    "Comment",
    "Decoded",
    "Decoder",
    "Drop",
    "DropKind",
    "DropMiddleware",
    "DropReport",
    "Event",
    "Field",
    "IgnoredLine",
    "IgnoredReason",
    "Message",
    "StreamEnd",
    "decode",
    "encode_comment",
    "encode_event",
    "encode_json_event",
    "encode_many",
    "json_text",
]

_MODULES = {
    "decoder": [
        "Block",
        "Comment",
        "Decoded",
        "Decoder",
        "Event",
        "Field",
        "IgnoredLine",
        "IgnoredReason",
        "StreamEnd",
        "decode",
    ],
    "drop_kinds": ["DropKind"],
    "drops": ["Drop", "DropMiddleware", "DropReport"],
    "encoder": [
        "CONTENT_TYPE",
        "STREAM_HEADERS",
        "Message",
        "encode_comment",
        "encode_event",
        "encode_json_event",
        "encode_many",
        "json_text",
    ],
}

__getattr__, __dir__ = lazy_exports(__name__, _MODULES)
