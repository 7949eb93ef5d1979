"""The event stream endpoint of the Nomad client: one streaming request per connection.

``events.follow_events`` owns reconnects, de-duplication and decoding; this
module opens each connection with the client's token, region and TLS
settings and maps its failures into the project's error tree.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager

import httpx

from reconciler.errors import NomadError
from reconciler.nomad.events import Event, StreamSettings, follow_events, topic_params
from reconciler.nomad.failures import TRANSPORT_ERRORS, map_response_error, map_transport_error
from reconciler.nomad.hooks import ConnectionHook, ResetHook
from reconciler.nomad.request import ClientState, RequestCore


class EventsApi(RequestCore):
    """``/v1/event/stream``: opening the stream; ``events.py`` decodes and follows it."""

    def events(
        self,
        *,
        topics: Mapping[str, Sequence[str]],
        index: int = 0,
        namespace: str = "*",
        on_connection: ConnectionHook | None = None,
        on_reset: ResetHook | None = None,
        settings: StreamSettings | None = None,
    ) -> AsyncGenerator[Event]:
        """Follow ``/v1/event/stream`` from ``index`` across reconnects (see ``events.py``).

        ``on_connection(bool)`` reports the connection state; after every
        reconnect, resync from lists: Nomad may have dropped events meanwhile.
        ``on_reset(old, new)``: the stream's index went backwards (Nomad lost its
        state); resync, and forget every index learnt from Nomad before.
        Iterate inside ``contextlib.aclosing(...)`` so the connection closes
        as soon as the consumer stops.
        """
        settings = settings or StreamSettings()
        topic_query = topic_params(topics)  # validate before any I/O
        return follow_events(
            lambda start: self._open_event_stream(start, topic_query, namespace, settings),
            index=index,
            settings=settings,
            on_connection=on_connection,
            on_reset=on_reset,
        )

    @asynccontextmanager
    async def _open_event_stream(
        self,
        start: int,
        topic_query: list[tuple[str, str]],
        namespace: str,
        settings: StreamSettings,
    ) -> AsyncIterator[AsyncIterator[bytes]]:
        endpoint = "/v1/event/stream"
        if self._state is ClientState.CLOSED:
            raise NomadError("cannot stream: the Nomad client has been closed", endpoint=endpoint)
        params = [*topic_query, ("namespace", namespace), *self._params(None)]
        if start > 0:
            params.append(("index", str(start)))
        request = self._http.build_request(
            "GET",
            endpoint,
            params=httpx.QueryParams(tuple(params)),
            # A compressed stream would be buffered: frames must arrive as written.
            headers={**self._headers(), "Accept-Encoding": "identity"},
            # No bytes (not even a heartbeat) for idle_timeout seconds = a dead stream.
            timeout=httpx.Timeout(self.config.timeout, read=settings.idle_timeout),
            extensions=self._extensions,
        )
        started = time.perf_counter()
        try:
            response = await self._http.send(request, stream=True)
        except TRANSPORT_ERRORS as exc:
            self._record(endpoint, "GET", "error", started)
            raise map_transport_error(exc, endpoint=endpoint) from exc
        self._record(endpoint, "GET", response.status_code, started)
        try:
            if not response.is_success:
                try:
                    await response.aread()
                except TRANSPORT_ERRORS as exc:
                    raise map_transport_error(exc, endpoint=endpoint) from exc
                raise map_response_error(
                    response.status_code, self._redact(response.text), endpoint=endpoint
                )
            chunks = self._body_chunks(response, endpoint=endpoint)
            try:
                yield chunks
            finally:
                await chunks.aclose()
        finally:
            await response.aclose()

    @staticmethod
    async def _body_chunks(response: httpx.Response, *, endpoint: str) -> AsyncGenerator[bytes]:
        try:
            async for chunk in response.aiter_bytes():
                yield chunk
        except TRANSPORT_ERRORS as exc:
            raise map_transport_error(exc, endpoint=endpoint) from exc
