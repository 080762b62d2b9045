"""Reading request bodies: validate with a serializer, raise the Harbor 400 envelope otherwise."""

from __future__ import annotations

from rest_framework.request import Request


def body_validated(serializer_class: type, request: Request) -> dict:
    """The request body, validated by `serializer_class` (a 400 BAD_REQUEST when it isn't valid)."""
    data = serializer_class(data=request.data)
    data.is_valid(raise_exception=True)
    return data.validated_data
