"""The loaded definition versions of an ``Engine`` and the shared machine of each: which version
an instance runs on, where new instances start (the highest version of a key), and whether an
event may leave an instance's state in its own version. Mixed into ``Engine``.

Versions deployed by another process (``shebao definitions deploy``, another worker's start) come
in through a ``VersionSource`` the engine follows (``engine.deployments.DeployedVersions``): they
are loaded when the engine meets an instance of a version it does not know (an event, a timer, a
guard's look at another instance), and at ``check_deployments``, which the web workers call before
a request and the schedulers before a sweep, at most every ``VersionSource.every`` seconds, so that
new instances start on the latest version deployed anywhere.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Hashable, Iterable
from time import monotonic
from typing import TYPE_CHECKING, Any, Protocol

from engine.errors import DefinitionError, EventNotAllowed, UnknownEvent, UnknownProcess
from engine.machine import SharedMachine

if TYPE_CHECKING:
    from engine.definition import ProcessDefinition
    from engine.registry import Registry

log = logging.getLogger(__name__)


class VersionSource(Protocol):
    """Where an engine finds the versions every process of the service deployed."""

    every: float
    """How often ``check_deployments`` looks, in seconds (0: whenever asked)."""

    def signature(self) -> Hashable:
        """A cheap token that changes whenever a version is deployed."""

    def load(self, loaded: Collection[tuple[str, int]]) -> list[ProcessDefinition]:
        """The deployed versions, parsed, but those whose (key, version) is in ``loaded``."""


class DefinitionCatalog:
    """Mixed into ``Engine``; relies on its registry (for the machines' guards) and its
    reference check (``EventData.check_references``)."""

    registry: Registry
    _definitions: dict[tuple[str, int], ProcessDefinition]
    _latest: dict[str, ProcessDefinition]
    _machines: dict[tuple[str, int], SharedMachine]
    _source: VersionSource | None  # None: not following (the files' versions only)
    _seen: Hashable  # the source's signature at the last look
    _next_look: float  # ``monotonic()`` time of the next periodic look
    _follow_lock: threading.Lock

    if TYPE_CHECKING:

        def check_references(self) -> None: ...

    @property
    def processes(self) -> dict[str, ProcessDefinition]:
        """The latest version of every process, by key."""
        return dict(self._latest)

    def install(self, definitions: Iterable[ProcessDefinition], *, replacing: bool = False) -> None:
        """Add definition versions (at start, and from ``engine.deployments``): one of the same
        key and version replaces the one loaded before; the highest version of a key is where new
        instances start. ``replacing``: the versions given are all their processes have (what
        was loaded from files for those processes goes). The new set is swapped in whole, so a
        request running meanwhile sees the old one or the new one; references that do not hold
        (``DefinitionError``) leave the old one in place."""
        given = list(definitions)
        known = dict(self._definitions)
        latest = dict(self._latest)
        machines = dict(self._machines)
        if replacing:
            keys = {d.key for d in given}
            known = {ident: d for ident, d in known.items() if ident[0] not in keys}
            latest = {key: d for key, d in latest.items() if key not in keys}
        for definition in given:
            ident = (definition.key, definition.version)
            known[ident] = definition
            machines[ident] = SharedMachine(definition, self.registry)
            found = latest.get(definition.key)
            if found is None or found.version <= definition.version:
                latest[definition.key] = definition
        before = (self._machines, self._definitions, self._latest)
        self._machines, self._definitions, self._latest = machines, known, latest
        try:
            self.check_references()
        except DefinitionError:
            self._machines, self._definitions, self._latest = before
            raise

    def follow(self, source: VersionSource) -> int:
        """Load every version ``source`` holds now, in place of the files' versions of the same
        processes, and follow it from now on (see the module); the number of versions."""
        with self._follow_lock:
            seen = source.signature()
            found = source.load(())
            self.install(found, replacing=True)
            self._source, self._seen = source, seen
            self._next_look = monotonic() + source.every
        return len(found)

    def check_deployments(self, *, now: bool = False) -> bool:
        """Load the versions deployed since the last look, if the last look is ``every`` seconds
        old (``now``: whatever its age); whether any came. A no-op unless following."""
        source = self._source
        if source is None or (not now and monotonic() < self._next_look):
            return False
        with self._follow_lock:
            if not now and monotonic() < self._next_look:
                return False  # another thread has just looked
            self._next_look = monotonic() + source.every
            seen = source.signature()
            if seen == self._seen:
                return False
            found = source.load(self._definitions.keys())
            self._seen = seen
            if not found:
                return False
            try:
                self.install(found)
            except DefinitionError as exc:
                log.error("deployed versions not loaded, their references do not hold: %s", exc)
                return False
        log.info("loaded deployed versions %s", ", ".join(f"{d.key} v{d.version}" for d in found))
        return True

    def loaded(self, key: str, version: int) -> ProcessDefinition | None:
        """Version ``version`` of ``key``; one this engine does not know yet is looked for among
        the deployed versions first (another process deployed it). None: there is none."""
        found = self._definitions.get((key, version))
        if found is None and self.check_deployments(now=True):
            found = self._definitions.get((key, version))
        return found

    def met_new_version(self, key: str, version: int) -> bool:
        """Whether version ``version`` of ``key`` was unknown and has just been loaded (another
        process deployed it): what was judged by the versions known before is judged again."""
        return (key, version) not in self._definitions and self.loaded(key, version) is not None

    def all_definitions(self) -> list[ProcessDefinition]:
        """Every loaded version of every process, by key and version."""
        return [self._definitions[ident] for ident in sorted(self._definitions)]

    def definition(self, key: str, version: int | None = None) -> ProcessDefinition:
        """The latest version of ``key``, or its ``version`` (``UnknownProcess`` if none is
        loaded or deployed)."""
        if version is not None:
            found = self.loaded(key, version)
        else:
            found = self._latest.get(key)
            if found is None and self.check_deployments(now=True):
                found = self._latest.get(key)
        if found is None:
            raise UnknownProcess(key, version)
        return found

    def allowing(self, row: Any, event: str) -> ProcessDefinition:
        """The row's definition, if ``event`` may leave the row's state (a typed error if not)."""
        definition = self.loaded(row.process, row.definition_version)
        if definition is None:
            raise UnknownProcess(row.process, row.definition_version)
        allowed = definition.outgoing(row.state)
        if event not in allowed:
            if event not in definition.events:
                raise UnknownEvent(row.process, event, allowed)
            raise EventNotAllowed(event, row.state, allowed, definition, instance_id=row.id)
        return definition
