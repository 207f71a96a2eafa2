"""The one walk of a JSON-like value through a text mask.

What the engine keeps of an event's data for people to read (``Registry.mask_data``: history rows,
archive files) and what the web writes out of any value (``web.log_masking.mask_value``: a log
line's extra fields, an API error body) both put every text of the value, nested ones too, through
a mask of personal data; this module walks the value, the caller names the mask.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


def mask_values(value: Any, mask_text: Callable[[str], str], *, keys: bool = False) -> Any:
    """``value`` with every text in it through ``mask_text``: mappings become dicts, lists and
    tuples lists, any other value (a number, a boolean, None) is kept as it is. A mapping's keys
    go through the mask too with ``keys`` (what a log line shows), else are kept as they are."""

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            return mask_text(item)
        if isinstance(item, Mapping):
            return {(walk(key) if keys else key): walk(inner) for key, inner in item.items()}
        if isinstance(item, list | tuple):
            return [walk(inner) for inner in item]
        return item

    return walk(value)


__all__ = ["mask_values"]
