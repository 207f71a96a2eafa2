"""Definition versions: every deployed content of a process is kept in the database
(``wf_definition``: the YAML itself, its content hash, when and by whom), as Camunda keeps its
deployments, so that instances are judged by the rules they started under.

``deploy`` stores each definition file whose content differs from its process's latest version as
version N+1 (the file's own ``version:`` is the least it deploys as; an unchanged file deploys
nothing). ``follow_deployments`` loads every stored version into an engine and has it follow the
table (``DeployedVersions``, ``engine.catalog``): running instances keep the version they started
on (``wf_instance.definition_version``), new ones start on the latest, and a version another
process deploys is loaded when the engine meets one of its instances, or at its next periodic
look. The service deploys the files when it starts (``web.wiring``: ``shebao run``, the WSGI app,
``shebao scheduler``, ``shebao demo``), and ``shebao definitions deploy`` does it by hand; other
commands only load. A process's first deployment also creates its partitions on a partitioned
PostgreSQL (``engine.partitions``).

A stored version that no longer parses (a guard removed from the code) is logged and left out:
its instances answer "unknown process version" until it is fixed, the others run on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine as Database
from sqlalchemy import Table, func, insert, inspect, select
from sqlalchemy.exc import IntegrityError

from engine import partitions
from engine.definition import parse_text
from engine.definition_checks import NameRegistry
from engine.errors import DefinitionError
from engine.models import DeployedDefinition, Instance
from engine.specs import ProcessDefinition

if TYPE_CHECKING:
    from engine.runtime import Engine

log = logging.getLogger(__name__)

DEPLOYED: Table = DeployedDefinition.__table__  # type: ignore[assignment]
INSTANCES: Table = Instance.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class Deployment:
    """A file as deployed: the version its content is stored as, and whether it is new."""

    key: str
    version: int
    new: bool
    content_hash: str


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def is_ready(db: Database) -> bool:
    """Whether the database has the deployments table (migrated to 0008 or later)."""
    return inspect(db).has_table(DEPLOYED.name)


def deploy(
    db: Database,
    files: Iterable[Path],
    registry: NameRegistry | None,
    *,
    actor: str,
    now: datetime,
) -> list[Deployment]:
    """Store each file whose content differs from its process's latest version as the next
    version. Files are validated first: one broken file deploys nothing."""
    texts = [(Path(p), Path(p).read_text(encoding="utf-8")) for p in sorted(files)]
    parsed = [(path, text, parse_text(text, str(path), registry)) for path, text in texts]
    done = []
    for path, text, definition in parsed:
        done.append(_deploy_one(db, path, text, definition, actor, now))
    return done


def _deploy_one(
    db: Database,
    path: Path,
    text: str,
    definition: ProcessDefinition,
    actor: str,
    now: datetime,
) -> Deployment:
    digest = content_hash(text)
    for _ in range(3):  # another process deploying the same file at the same moment
        latest = _latest(db, definition.key)
        if latest is not None and latest.content_hash == digest:
            return Deployment(definition.key, latest.version, False, digest)
        version = _next_version(definition, latest)
        try:
            with db.begin() as conn:
                conn.execute(
                    insert(DEPLOYED).values(
                        key=definition.key,
                        version=version,
                        content_hash=digest,
                        source=text,
                        path=str(path),
                        deployed_at=now,
                        deployed_by=actor,
                    )
                )
                if latest is None:  # a new process: its partitions before its first instance
                    partitions.add_process(conn, definition.key, now)
        except IntegrityError:
            continue
        log.info("deployed %s v%d (%s) by %s", definition.key, version, digest[:12], actor)
        return Deployment(definition.key, version, True, digest)
    raise RuntimeError(f"could not deploy {path}: its version kept being taken")


def _next_version(definition: ProcessDefinition, latest: Any) -> int:
    """The version a changed file is stored as: the latest's next, or the file's own
    ``version:`` when that is more (or nothing is deployed)."""
    return definition.version if latest is None else max(latest.version + 1, definition.version)


@dataclass(frozen=True)
class Outlook:
    """What ``deploy`` would do with a file now (``shebao definitions validate`` says it)."""

    deployment: Deployment
    """The version it would be stored as (``new``), or the latest it equals."""
    latest: int | None
    """The latest deployed version of its process; None: none."""


def outlook(db: Database, text: str, definition: ProcessDefinition) -> Outlook:
    """What ``deploy`` would do now with a file of ``text`` (parsed: ``definition``), storing
    nothing. The database's faults are the caller's (a database not migrated has no table)."""
    digest = content_hash(text)
    latest = _latest(db, definition.key)
    version = None if latest is None else int(latest.version)
    if latest is not None and latest.content_hash == digest:
        return Outlook(Deployment(definition.key, latest.version, False, digest), version)
    return Outlook(
        Deployment(definition.key, _next_version(definition, latest), True, digest), version
    )


def _latest(db: Database, key: str) -> Any:
    with db.connect() as conn:
        return conn.execute(
            select(DEPLOYED.c.version, DEPLOYED.c.content_hash)
            .where(DEPLOYED.c.key == key)
            .order_by(DEPLOYED.c.version.desc())
            .limit(1)
        ).first()


DEFAULT_CHECK_SECONDS = 5.0
"""How often a following engine looks for versions deployed elsewhere (``check_deployments``)."""


class DeployedVersions:
    """The deployments table as the versions an engine follows (``engine.catalog``).

    Args:
        db: the database.
        registry: what the definitions name (their guards, actions, policy dates).
        every: seconds between the engine's periodic looks (0: whenever asked).
    """

    def __init__(
        self, db: Database, registry: NameRegistry | None, every: float = DEFAULT_CHECK_SECONDS
    ) -> None:
        self.db = db
        self.registry = registry
        self.every = every

    def signature(self) -> tuple[int, int | None]:
        """How many versions are stored and the newest row's id: one indexed read, and it
        changes with every deployment (also one committed after a later one)."""
        with self.db.connect() as conn:
            count, newest = conn.execute(select(func.count(), func.max(DEPLOYED.c.id))).one()
        return int(count), newest

    def load(self, loaded: Collection[tuple[str, int]] = ()) -> list[ProcessDefinition]:
        """The stored versions but those in ``loaded``, parsed (one that no longer parses is
        logged and left out)."""
        with self.db.connect() as conn:
            idents = conn.execute(select(DEPLOYED.c.id, DEPLOYED.c.key, DEPLOYED.c.version)).all()
            wanted = [row.id for row in idents if (row.key, row.version) not in loaded]
            if not wanted:
                return []
            rows = conn.execute(
                select(DEPLOYED)
                .where(DEPLOYED.c.id.in_(wanted))
                .order_by(DEPLOYED.c.key, DEPLOYED.c.version)
            ).all()
        found = []
        for row in rows:
            try:
                parsed = parse_text(row.source, row.path, self.registry)
            except DefinitionError as exc:
                log.error(
                    "%s v%d no longer loads, its instances wait: %s", row.key, row.version, exc
                )
                continue
            found.append(dataclasses.replace(parsed, version=row.version))
        return found


def follow_deployments(
    engine: Engine, registry: NameRegistry | None, every: float = DEFAULT_CHECK_SECONDS
) -> int:
    """Load every stored version into ``engine`` (in place of the versions it loaded from files
    for the same processes) and have it follow the table from now on; the number of versions."""
    return engine.follow(DeployedVersions(engine.db, registry, every))


def versions(db: Database, key: str | None = None) -> list[dict[str, Any]]:
    """The deployed versions with their instance counts, newest first per process."""
    counts = (
        select(
            INSTANCES.c.process,
            INSTANCES.c.definition_version,
            func.count().label("instances"),
        )
        .group_by(INSTANCES.c.process, INSTANCES.c.definition_version)
        .subquery()
    )
    query = (
        select(
            DEPLOYED.c.key,
            DEPLOYED.c.version,
            DEPLOYED.c.content_hash,
            DEPLOYED.c.deployed_at,
            DEPLOYED.c.deployed_by,
            func.coalesce(counts.c.instances, 0).label("instances"),
        )
        .outerjoin(
            counts,
            (counts.c.process == DEPLOYED.c.key)
            & (counts.c.definition_version == DEPLOYED.c.version),
        )
        .order_by(DEPLOYED.c.key, DEPLOYED.c.version.desc())
    )
    if key is not None:
        query = query.where(DEPLOYED.c.key == key)
    with db.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def deployed_version(
    db: Database, registry: NameRegistry | None, key: str, version: int | None = None
) -> ProcessDefinition | None:
    """Version ``version`` of ``key`` as it was deployed (its latest when None), parsed, with
    its stored version number; None when there is none. A stored text that no longer parses
    raises ``DefinitionError``."""
    query = select(DEPLOYED.c.source, DEPLOYED.c.path, DEPLOYED.c.version).where(
        DEPLOYED.c.key == key
    )
    if version is not None:
        query = query.where(DEPLOYED.c.version == version)
    with db.connect() as conn:
        row = conn.execute(query.order_by(DEPLOYED.c.version.desc()).limit(1)).first()
    if row is None:
        return None
    parsed = parse_text(row.source, f"{row.path} (deployed v{row.version})", registry)
    return dataclasses.replace(parsed, version=row.version)
