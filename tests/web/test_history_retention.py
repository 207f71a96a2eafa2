"""History retention as the operator meets it: the card process keeps an ended card for ten
years; `shebao history due|cleanup` and the process page say what is past it, the cleanup
removes it (archived first), and the scheduler runs it only inside its window (issue 16)."""

from __future__ import annotations

import errno
import gzip
import logging
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from staff_login import client_for
from support import complete_confirmed, counter_card

from engine import queries, retention
from engine import statements as st
from engine.clock import SimulatedClock
from engine.retention import Window, read_archive
from web.app import engine_of
from web.cli.main import main
from web.scheduling import cleanup_window, make_scheduler
from workflows.identity import make_id_number, mask_id_number

NOW = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
"""The service's time: the ``clock`` fixture's (``conftest.py``)."""


def ended_card(app: Flask, n: int) -> int:
    """A card cancelled and its bank account closed: the card process's end."""
    card = counter_card(
        app,
        make_id_number("440604", datetime(1980, 1, 1 + n).date(), 11),
        events=("cancel", "close_bank_account"),
    )
    return card.instance_id


def test_ended_cards_past_ten_years_are_listed_then_removed_and_archived(
    app: Flask, clock: SimulatedClock, tmp_path: Path
) -> None:
    ended = [ended_card(app, n) for n in range(3)]
    runner = app.test_cli_runner()
    assert "due=0" in runner.invoke(main, ["history", "due"]).output
    clock.advance(timedelta(days=3651))
    due = runner.invoke(main, ["history", "due"])
    assert "card\tttl=P3650D\tdue=3" in due.output
    page = client_for(app, "boss").get("/processes/card").get_data(as_text=True)
    assert "3650 天" in page and "已超期待清理 3" in page
    dry = runner.invoke(main, ["history", "cleanup", "--dry-run"])
    assert '"instances": 3' in dry.output and queries.instance(engine_of(app).db, ended[0])
    done = runner.invoke(main, ["history", "cleanup", "--archive", str(tmp_path / "archive")])
    assert done.exit_code == 0, done.output
    assert '"instances": 3' in done.output and '"archived": 3' in done.output
    assert all(queries.instance(engine_of(app).db, iid) is None for iid in ended)
    (archive,) = (tmp_path / "archive").iterdir()
    assert sorted(item["id"] for item in read_archive(archive)) == ended


def test_a_reason_stored_whole_before_history_was_masked_is_archived_masked(
    app: Flask, clock: SimulatedClock, tmp_path: Path
) -> None:
    """History rows written before the engine masked their texts still carry a typed ID number
    whole: the archive masks it as it writes them."""
    card = ended_card(app, 0)
    other = make_id_number("440604", datetime(1975, 7, 7).date(), 6)
    engine = engine_of(app)
    [cancel] = [h for h in queries.history(engine.db, card) if h["event"] == "cancel"]
    with engine.db.begin() as conn:  # as a row of an older release kept it
        conn.execute(
            st.history.update()
            .where(st.history.c.id == cancel["id"])
            .values(data={"reason": f"误用{other}的材料"})
        )
    clock.advance(timedelta(days=3651))
    runner = app.test_cli_runner()
    done = runner.invoke(main, ["history", "cleanup", "--archive", str(tmp_path / "archive")])
    assert '"archived": 1' in done.output, done.output
    (archive,) = (tmp_path / "archive").iterdir()
    assert other not in gzip.decompress(archive.read_bytes()).decode("utf-8")
    [item] = read_archive(archive)
    [kept] = [h for h in item["history"] if h["event"] == "cancel"]
    assert kept["data"] == {"reason": f"误用{mask_id_number(other)}的材料"}


def test_an_ended_card_with_a_comment_on_its_task_is_removed_and_the_comment_archived_masked(
    app: Flask, clock: SimulatedClock, tmp_path: Path
) -> None:
    holder = make_id_number("440604", datetime(1980, 2, 2).date(), 11)
    other = make_id_number("440604", datetime(1975, 7, 7).date(), 6)
    card = counter_card(app, holder, events=("cancel",)).instance_id
    engine = engine_of(app)
    [task] = queries.tasks_of(engine.db, card, "open")
    wang = client_for(app, "wang")
    said = wang.post(f"/inbox/{task['id']}/comments", data={"body": f"持卡人称{other}的卡已销户"})
    assert said.status_code == 303
    close = {"outcome": "close_bank_account"}
    assert complete_confirmed(wang, task["id"], close).status_code == 302
    assert queries.instance(engine.db, card)["state"] == "bank_account_closed"  # type: ignore[index]
    clock.advance(timedelta(days=3651))
    runner = app.test_cli_runner()
    done = runner.invoke(main, ["history", "cleanup", "--archive", str(tmp_path / "archive")])
    assert done.exit_code == 0, done.output
    assert '"instances": 1' in done.output and queries.instance(engine.db, card) is None
    (archive,) = (tmp_path / "archive").iterdir()
    assert other not in gzip.decompress(archive.read_bytes()).decode("utf-8")
    [item] = read_archive(archive)
    [comment] = item["comments"]
    assert comment["body"] == f"持卡人称{mask_id_number(other)}的卡已销户"
    assert comment["author"] == "wang"


def test_the_scheduler_cleans_only_inside_its_window(app: Flask) -> None:
    assert cleanup_window({"SHEBAO_HISTORY_CLEANUP_WINDOW": "off"}) is None
    window = cleanup_window({})
    assert window is not None
    assert window.contains(datetime(2026, 1, 1, 18, 30, tzinfo=UTC))  # 02:30 in Shanghai
    assert not window.contains(datetime(2026, 1, 1, 6, 0, tzinfo=UTC))  # 14:00 in Shanghai
    overnight = Window.parse("23:00-02:00", UTC)
    assert overnight.contains(datetime(2026, 1, 1, 23, 30, tzinfo=UTC))
    assert overnight.contains(datetime(2026, 1, 2, 1, 30, tzinfo=UTC))
    assert not overnight.contains(datetime(2026, 1, 2, 12, 0, tzinfo=UTC))
    with pytest.raises(ValueError, match="01:00-05:00"):
        Window.parse("at night", UTC)
    scheduler = make_scheduler(app, blocking=False)
    jobs = {job.id for job in scheduler.apscheduler.get_jobs()}
    assert "shebao-history-cleanup" in jobs
    scheduler.cleanup_window = Window.parse("00:00-00:00", UTC)  # never open
    assert scheduler.clean() is None
    scheduler.cleanup_window = None
    assert scheduler.clean().instances == 0  # open: runs (nothing is due)


def test_archive_files_and_the_folders_made_for_them_are_the_operators_alone(
    app: Flask, clock: SimulatedClock, tmp_path: Path
) -> None:
    """An archive keeps each person's own ID number whole (its business key, to search by):
    made ``0600`` in folders made ``0700``, as the notices file; a folder that exists keeps
    its mode."""
    ended = [ended_card(app, n) for n in range(2)]
    clock.advance(timedelta(days=3651))
    runner = app.test_cli_runner()
    made = tmp_path / "made" / "archive"
    done = runner.invoke(main, ["history", "cleanup", "--archive", str(made), "--chunk", "1"])
    assert done.exit_code == 0 and '"archived": 2' in done.output, done.output
    (archive,) = made.iterdir()
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert {stat.S_IMODE(p.stat().st_mode) for p in (made, made.parent)} == {0o700}
    assert sorted(item["id"] for item in read_archive(archive)) == ended

    shared = tmp_path / "shared"
    shared.mkdir(mode=0o750)
    ended_card(app, 3)
    clock.advance(timedelta(days=3651))
    again = runner.invoke(main, ["history", "cleanup", "--archive", str(shared)])
    assert again.exit_code == 0 and '"archived": 1' in again.output, again.output
    assert stat.S_IMODE(shared.stat().st_mode) == 0o750
    assert {stat.S_IMODE(p.stat().st_mode) for p in shared.iterdir()} == {0o600}


def test_an_archive_that_cannot_be_written_is_one_clear_line_and_nothing_goes(
    app: Flask, clock: SimulatedClock, tmp_path: Path
) -> None:
    ended = [ended_card(app, n) for n in range(2)]
    clock.advance(timedelta(days=3651))
    runner = app.test_cli_runner()
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    done = runner.invoke(main, ["history", "cleanup", "--archive", str(a_file / "archive")])
    assert done.exit_code == 1, done.output
    assert done.stderr.startswith("Error: cannot write the history archive / 无法写入历史归档")
    assert "nothing was removed" in done.stderr and len(done.stderr.splitlines()) == 1
    assert not isinstance(done.exception, OSError)  # no traceback
    assert all(queries.instance(engine_of(app).db, iid) for iid in ended)


def test_a_write_that_fails_half_way_keeps_its_chunk_and_a_readable_archive(
    app: Flask, clock: SimulatedClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk fills during the second chunk's write: that chunk stays (exit 1, saying what
    went before it), its partial gzip member is cut off, and the next run carries on."""
    ended = [ended_card(app, n) for n in range(3)]
    clock.advance(timedelta(days=3651))
    writes: list[int] = []
    write = os.write

    def full_disk(fd: int, data: bytes) -> int:
        writes.append(len(data))
        if len(writes) == 1:
            return write(fd, data)
        write(fd, bytes(data)[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(retention.os, "write", full_disk)
    runner = app.test_cli_runner()
    folder = tmp_path / "archive"
    done = runner.invoke(main, ["history", "cleanup", "--archive", str(folder), "--chunk", "1"])
    assert done.exit_code == 1, done.output
    assert "No space left on device" in done.stderr
    assert "1 instances were removed and archived before it" in done.stderr
    (archive,) = folder.iterdir()
    assert [item["id"] for item in read_archive(archive)] == ended[:1]
    assert all(queries.instance(engine_of(app).db, iid) for iid in ended[1:])
    monkeypatch.undo()
    rest = runner.invoke(main, ["history", "cleanup", "--archive", str(folder)])
    assert rest.exit_code == 0 and '"archived": 2' in rest.output, rest.output
    assert sorted(item["id"] for item in read_archive(archive)) == ended


class Killed(Exception):
    """Stands for a ``kill -9`` between the archive's sync and the chunk's commit."""


def test_a_chunk_archived_twice_by_a_crash_before_its_delete_reads_once(
    app: Flask, clock: SimulatedClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed after the archive was synced but before the rows went (as a ``kill -9``): the
    next run archives the chunk again; readers keep the last line per instance."""
    ended = [ended_card(app, n) for n in range(2)]
    clock.advance(timedelta(days=3651))
    append = retention._append_gzip

    def killed(path: Path, lines: Any) -> int:
        append(path, lines)
        raise Killed  # the process dies here: the chunk's transaction is not committed

    monkeypatch.setattr(retention, "_append_gzip", killed)
    runner = app.test_cli_runner()
    folder = tmp_path / "archive"
    crashed = runner.invoke(main, ["history", "cleanup", "--archive", str(folder)])
    assert isinstance(crashed.exception, Killed)
    assert all(queries.instance(engine_of(app).db, iid) for iid in ended)
    monkeypatch.undo()
    done = runner.invoke(main, ["history", "cleanup", "--archive", str(folder)])
    assert done.exit_code == 0 and '"archived": 2' in done.output, done.output
    (archive,) = folder.iterdir()
    with gzip.open(archive, "rt", encoding="utf-8") as lines:
        assert sum(1 for _ in lines) == 4
    assert sorted(item["id"] for item in read_archive(archive)) == ended


def test_the_scheduler_logs_an_unwritable_archive_and_removes_nothing(
    app: Flask, clock: SimulatedClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ended = ended_card(app, 0)
    clock.advance(timedelta(days=3651))
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    app.config["SHEBAO_HISTORY_ARCHIVE"] = str(a_file / "archive")
    scheduler = make_scheduler(app, blocking=False)
    scheduler.cleanup_window = None
    with caplog.at_level(logging.ERROR, logger="engine.scheduler"):
        assert scheduler.clean() is None
        assert scheduler.clean() is None  # the next run: the same line, no crash
    lines = [r.getMessage() for r in caplog.records if r.name == "engine.scheduler"]
    assert len(lines) == 2 and all(
        line.startswith("history cleanup skipped: cannot write the history archive")
        for line in lines
    )
    assert queries.instance(engine_of(app).db, ended) is not None
