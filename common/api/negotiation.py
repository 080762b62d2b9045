"""Content negotiation that never answers 406: Harbor clients send Accept headers no renderer matches."""

from __future__ import annotations

from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request


class HarborContentNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, falling back to the view's first renderer (JSON) where DRF answers 406.

    Clients generated from Harbor's swagger send an operation's `produces` as Accept: `text/plain`
    for getPing (which answers `Pong` as text/plain whatever is asked), and some send it to every
    operation. Nothing reads a JSON operation's body as plain text, so JSON is the useful answer and
    a 406 would only break the client. An explicit `?format=` that no renderer has still fails (404).
    """

    def select_renderer(
        self, request: Request, renderers: list[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except NotAcceptable:
            return renderers[0], renderers[0].media_type
