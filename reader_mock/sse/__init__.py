"""The SSE wire layer: frame encoding, a reference decoder, a stream checker and scripted drops.

- :mod:`.encoder` turns events and comments into bytes (pure);
- :mod:`.decoder` decodes bytes exactly as WHATWG HTML section 9.2 says, and reports the framing;
- :mod:`.checker` checks the bytes a client received against the contract (pure);
- :mod:`.drops` ends connections the scripted ways (clean end, truncated body, cut inside a
  frame, TCP reset) as an ASGI middleware.
"""

from .checker import StreamChecker, StreamViolation, ViolationKind, check_stream
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
from .drops import Drop, DropKind, DropMiddleware, DropReport
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
    "StreamChecker",
    "StreamEnd",
    "StreamViolation",
    "ViolationKind",
    "check_stream",
    "decode",
    "encode_comment",
    "encode_event",
    "encode_json_event",
    "encode_many",
    "json_text",
]
