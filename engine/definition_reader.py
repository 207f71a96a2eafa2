"""Reading a definition file's YAML: a loader that refuses a key given twice, and ``Reader``,
which checks each value's shape and raises ``DefinitionError`` naming the file and dotted key."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

import yaml

from engine.durations import Duration, parse_duration
from engine.errors import DefinitionError
from engine.specs import Label

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_VARIABLE_PATH = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*$")


class UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses a mapping with the same key twice (two events of one name)."""


def _construct_unique_mapping(loader: UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping
)


class Reader:
    """Walks the raw YAML and raises ``DefinitionError`` with the file and dotted key."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, problem: str) -> DefinitionError:
        return DefinitionError(self.source, key, problem)

    def mapping(self, value: Any, key: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a mapping, got {type(value).__name__}")
        return value

    def only_keys(self, value: dict[str, Any], key: str, allowed: Iterable[str]) -> None:
        unknown = sorted(set(value) - set(allowed))
        if unknown:
            raise self.fail(f"{key}.{unknown[0]}", f"unknown key (allowed: {', '.join(allowed)})")

    def listed(self, value: Any, key: str, what: str) -> Iterator[tuple[str, Any]]:
        """Each item of the list ``value`` with its dotted key (``key[i]``); a value that is not
        a list is refused as "expected a list of ``what``"."""
        if not isinstance(value, list):
            raise self.fail(key, f"expected a list of {what}")
        for i, item in enumerate(value):
            yield f"{key}[{i}]", item

    def records(
        self, value: Any, key: str, what: str, allowed: Iterable[str]
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Each item of the list ``value``, checked to be a mapping with only ``allowed`` keys,
        with its dotted key."""
        for item_key, item in self.listed(value, key, what):
            data = self.mapping(item, item_key)
            self.only_keys(data, item_key, allowed)
            yield item_key, data

    def variable_path(self, value: Any, key: str) -> str:
        """A dotted path into an instance's variables (``bank.code``)."""
        if not isinstance(value, str) or not _VARIABLE_PATH.match(value):
            raise self.fail(key, f"expected a dotted variable path, got {value!r}")
        return value

    def name(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not _NAME.match(value):
            raise self.fail(key, f"expected a snake_case name, got {value!r}")
        return value

    def names(self, value: Any, key: str) -> tuple[str, ...]:
        if value is None:
            return ()
        items = value if isinstance(value, list) else [value]
        return tuple(self.name(item, f"{key}[{i}]") for i, item in enumerate(items))

    def label(self, value: Any, key: str) -> Label:
        data = self.mapping(value, key)
        self.only_keys(data, key, ("zh", "en"))
        for lang in ("zh", "en"):
            if not isinstance(data.get(lang), str) or not data[lang].strip():
                raise self.fail(f"{key}.{lang}", "a label needs non-empty Chinese and English text")
        return Label(zh=data["zh"], en=data["en"])

    def duration(self, value: Any, key: str) -> Duration:
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise self.fail(key, str(exc)) from None
