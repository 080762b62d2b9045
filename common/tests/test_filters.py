"""The q-language filter helpers: value conversion per field kind."""

from datetime import UTC, datetime

import pytest

from common.api.filters import Field, _value
from common.api.query import QueryError


def test_datetime_values_are_aware_utc_when_naive():
    field = Field("op_time", kind="datetime")
    assert _value(field, "2020-04-09 02:36:00") == datetime(2020, 4, 9, 2, 36, tzinfo=UTC)
    assert _value(field, "2020-04-09T02:36:00Z") == datetime(2020, 4, 9, 2, 36, tzinfo=UTC)


def test_bad_datetime_is_a_query_error():
    with pytest.raises(QueryError, match="is not a time"):
        _value(Field("op_time", kind="datetime"), "yesterday")
