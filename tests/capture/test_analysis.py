"""What the capture keeps of a flow's analysis: the JSON of its array columns."""

from __future__ import annotations

import json
from typing import Any

import pytest

from capture.analysis import json_array


@pytest.mark.parametrize("items", [[], (), ["1", "5"], [["Sync/Status", 3, "invalid SyncKey"]], [{"a": None}]])
def test_an_array_column_is_what_json_writes_of_its_items(items: Any) -> None:
    assert json_array(items) == json.dumps(list(items))
    assert json_array(iter(items)) == json.dumps(list(items))  # any iterable, read once
