"""A small Reader SDK written from the docs alone, as an outside author would: its own SSE parser
(WHATWG line rules, comments skipped, ``id:`` remembered) and reconnects with ``Last-Event-ID``.

The suite next to it tests this SDK against the pytest plugin; ``Quirks`` switches on the
mistakes real clients make, so each one can be shown to be caught.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from typing import Any

import httpx


@dataclasses.dataclass(frozen=True)
class Event:
    """One dispatched SSE event."""

    name: str
    data: str
    id: str


@dataclasses.dataclass(frozen=True)
class Quirks:
    """Mistakes a client can make, all off in a correct client."""

    comments_are_events: bool = False
    """Surface ``: ping`` as an event named ``ping``."""
    reconnect_after_done: bool = False
    """Treat the end of the per-job stream as a drop and connect again."""
    no_reconnect: bool = False
    """Give up when a stream drops."""
    forget_last_event_id: bool = False
    """Reconnect without the ``Last-Event-ID`` header."""
    workspace_ends_with_job: bool = False
    """Stop reading the workspace stream after the first finished job."""
    die_on_ping: bool = False
    """Stop reading the workspace stream at its first comment."""
    stale_last_event_id: bool = False
    """Resume the workspace stream from the id before the last one received."""


def parse(lines: Iterable[str], quirks: Quirks = Quirks()) -> Iterator[Event]:
    """Events from the lines of an SSE body (line ends already removed)."""
    name, last_id = "", ""
    data: list[str] = []
    for line in lines:
        if line == "":
            if data:
                yield Event(name or "message", "\n".join(data), last_id)
            name, data = "", []
            continue
        if line.startswith(":"):
            if quirks.comments_are_events:
                yield Event(line[1:].strip(), "", last_id)
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
        elif field == "id" and "\0" not in value:
            last_id = value


class Reader:
    """The SDK's client: jobs and the two event streams."""

    def __init__(
        self, base_url: str, api_key: str, *, quirks: Quirks = Quirks(), max_retries: int = 3
    ) -> None:
        self.quirks = quirks
        self.max_retries = max_retries
        self._http = httpx.Client(
            base_url=base_url, headers={"x-api-key": api_key}, timeout=httpx.Timeout(10)
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read(self, urls: list[str]) -> str:
        """Start a batch job; its id."""
        response = self._http.post("/v1/read", json={"urls": urls})
        response.raise_for_status()
        job_id = response.json()["data"]["id"]
        assert isinstance(job_id, str)
        return job_id

    def job(self, job_id: str) -> dict[str, Any]:
        response = self._http.get(f"/v1/jobs/{job_id}")
        response.raise_for_status()
        data = response.json()["data"]
        assert isinstance(data, dict)
        return data

    def stream_job(self, job_id: str) -> Iterator[Event]:
        """Every event of a job until ``done``, reconnecting after drops (blocks)."""
        last_id = ""
        retries = 0
        while True:
            headers = {"Accept": "text/event-stream"}
            if last_id and not self.quirks.forget_last_event_id:
                headers["Last-Event-ID"] = last_id
            finished = False
            try:
                with self._http.stream(
                    "GET", f"/v1/jobs/{job_id}/stream", headers=headers
                ) as response:
                    if response.status_code == 204:
                        return
                    response.raise_for_status()
                    for event in parse(response.iter_lines(), self.quirks):
                        last_id = event.id or last_id
                        yield event
                        if event.name == "done":
                            finished = True
                            break
            except (httpx.RemoteProtocolError, httpx.ReadError):
                pass
            if finished and not self.quirks.reconnect_after_done:
                return
            if finished:
                self.quirks = dataclasses.replace(self.quirks, reconnect_after_done=False)
            elif self.quirks.no_reconnect:
                raise ConnectionError(f"the stream of {job_id} dropped")
            retries += 1
            if retries > self.max_retries:
                raise ConnectionError(f"the stream of {job_id} dropped {retries} times")

    def watch(self) -> Iterator[Event]:
        """The workspace's events, for as long as the caller reads them (blocks); after a drop,
        it reconnects with the ``Last-Event-ID`` of the last event received."""
        last_id, before = "", ""
        retries = 0
        while True:
            headers = {"Accept": "text/event-stream"}
            resume = before if self.quirks.stale_last_event_id else last_id
            if resume and not self.quirks.forget_last_event_id:
                headers["Last-Event-ID"] = resume
            try:
                with self._http.stream("GET", "/v1/events", headers=headers) as response:
                    response.raise_for_status()
                    lines = response.iter_lines()
                    if self.quirks.die_on_ping:
                        for line in lines:
                            if line.startswith(":"):
                                return
                    for event in parse(lines, self.quirks):
                        if event.id and event.id != last_id:
                            before, last_id = last_id, event.id
                        yield event
                        if self.quirks.workspace_ends_with_job and event.name in (
                            "job:completed",
                            "job:failed",
                        ):
                            return
                return  # the server ended the stream: it shut down
            except (httpx.RemoteProtocolError, httpx.ReadError):
                if self.quirks.no_reconnect or self._http.is_closed:
                    raise
            retries += 1
            if retries > self.max_retries:
                raise ConnectionError(f"the workspace stream dropped {retries} times")
