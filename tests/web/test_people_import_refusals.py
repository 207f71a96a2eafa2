"""People imports and the ``shebao people`` commands, refusing in words: a row naming a person on
record with other facts is rejected naming them (it was reported "unchanged": the sender believed
it matched), a file the CSV reader cannot read is refused naming the line (it crashed with a
traceback), a cell with a NUL is rejected (PostgreSQL refuses it), and the people commands print
their refusals in Chinese and English as the import commands do."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from flask import Flask

from engine import queries
from engine.clock import SimulatedClock
from web.api.tokens import create_token
from web.app import create_app
from web.cli.main import main
from web.extensions import engine_of
from workflows import imports
from workflows.identity import make_id_number, mask_id_number

CHEN = make_id_number("440604", date(1980, 3, 3), 5)
HUANG = make_id_number("350521", date(1975, 7, 7), 6)
LIANG = make_id_number("440604", date(1990, 1, 1), 7)
HEADER = "id_number,name,region,reduction_categories\n"


def _app(url: str) -> Flask:
    return create_app(
        {"SHEBAO_DATABASE_URL": url, "TESTING": True},
        clock=SimulatedClock(datetime(2021, 10, 12, 2, tzinfo=UTC)),
    )


def _run(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(main, list(args))


def _file(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _person(app: Flask, id_number: str) -> dict[str, object]:
    [(record, _state)] = queries.by_business_key(engine_of(app).db, "person", id_number)
    found = queries.instance(engine_of(app).db, record)
    assert found is not None
    return dict(found["variables"])


def test_a_person_on_record_with_other_facts_is_rejected_naming_them(
    db_url: str, tmp_path: Path
) -> None:
    app = _app(db_url)
    first = f"{CHEN},陈明,foshan,\n{HUANG},黄丽,huian,\n"
    assert _run(app, "import", "people", _file(tmp_path, "a.csv", HEADER + first)).exit_code == 0
    again = _run(app, "import", "people", _file(tmp_path, "a.csv", HEADER + first))
    assert again.exit_code == 0 and "applied: 0  unchanged: 2  rejected: 0" in again.output
    other = f"{CHEN},陈敏,huian,\n{HUANG},黄丽,huian,dibao\n{LIANG},梁军,foshan,\n"
    result = _run(app, "import", "people", _file(tmp_path, "b.csv", HEADER + other))
    assert result.exit_code == 1, result.output
    assert "applied: 1  unchanged: 0  rejected: 2" in result.output  # the new person is applied
    assert "line 2: 与已登记的资料不一致" in result.output and "姓名、参保地" in result.output
    assert "differs from the person on record" in result.output and "name, region" in result.output
    assert "line 3:" in result.output and "reduction categories" in result.output
    assert CHEN not in result.output and HUANG not in result.output
    assert _person(app, CHEN)["name"] == "陈明"  # nothing of a rejected row is written
    assert _person(app, HUANG)["reduction_categories"] == []
    # through the API: the rejected row names the facts in both languages
    token = create_token(engine_of(app).db, "importer", ["import"])
    rows = [{"id_number": CHEN, "name": "陈明", "region": "huian"}]
    answer = app.test_client().post(
        "/api/v1/imports/people",
        json={"rows": rows},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.json
    [rejected] = answer.json["rejected"]
    assert "region" in rejected["reason"] and "name" not in rejected["reason"]
    assert "参保地" in rejected["reason_zh"]


def test_a_nul_in_a_cell_rejects_the_row(db_url: str, tmp_path: Path) -> None:
    app = _app(db_url)
    text = (
        "id_number,name,region,household\n" + f"{CHEN},陈明,foshan,H\x0012\n{HUANG},黄丽,foshan,\n"
    )
    result = _run(app, "import", "people", _file(tmp_path, "n.csv", text))
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    assert "applied: 1  unchanged: 0  rejected: 1" in result.output
    assert "line 2: 以下列含有控制字符" in result.output and "household" in result.output


def test_a_file_the_csv_reader_cannot_read_is_refused_naming_the_line(
    sqlite_url: str, tmp_path: Path
) -> None:
    app = _app(sqlite_url)
    long = HEADER + f"{CHEN},陈明,foshan,\n{HUANG},{'黄' * 140_000},foshan,\n{LIANG},梁军,foshan,\n"
    result = _run(app, "import", "people", _file(tmp_path, "long.csv", long))
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    assert "第 3 行起的记录无法读取" in result.output and "line 3" in result.output
    assert "nothing was imported" in result.output
    unclosed = HEADER + f'{CHEN},陈明,foshan,\n{HUANG},"黄丽,foshan,\n{LIANG},梁军,foshan,\n'
    result = _run(app, "import", "people", _file(tmp_path, "quote.csv", unclosed))
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    assert "第 3 行起的记录无法读取（引号未闭合）" in result.output and "line 3" in result.output
    assert queries.total_instances(engine_of(app).db) == 0  # nothing applied


def test_people_commands_refuse_in_chinese_and_english(sqlite_url: str) -> None:
    app = _app(sqlite_url)
    typo = CHEN[:-1] + ("0" if CHEN[-1] != "0" else "1")
    result = _run(
        app, "people", "register", "--id-number", typo, "--name", "陈明", "--region", "foshan"
    )
    assert result.exit_code == 1
    assert "校验位" in result.output and "check character" in result.output, result.output
    assert typo not in result.output
    result = _run(
        app,
        "people",
        "claim-reduction",
        "--id-number",
        CHEN,
        "--category",
        "dibao",
        "--evidence",
        "x",
    )
    assert result.exit_code == 1, result.output
    assert "没有医保参保档案" in result.output and "has no insured record" in result.output
    assert mask_id_number(CHEN) in result.output and CHEN not in result.output


def test_a_card_number_of_another_person_is_never_echoed_whole(db_url: str) -> None:
    """QA: a careless sender put an ID number in the card-number column; the row of a second
    person with the same card number was rejected quoting it whole, to the API and the CLI."""
    app = _app(db_url)
    token = create_token(engine_of(app).db, "importer", ["import"])
    card = {"card_number": CHEN, "card_bank": "icbc", "card_state": "active"}
    answers = [
        app.test_client().post(
            "/api/v1/imports/people",
            json={"rows": [{"id_number": who, "name": "某", "region": "foshan", **card}]},
            headers={"Authorization": f"Bearer {token}"},
        )
        for who in (CHEN, LIANG)
    ]
    assert [a.status_code for a in answers] == [200, 200]
    [rejected] = answers[1].json["rejected"]
    assert "belongs to another person" in rejected["reason"], rejected
    assert mask_id_number(CHEN) in rejected["reason"] + rejected["reason_zh"]
    assert CHEN not in str(answers[1].json)


def test_a_row_that_meets_a_unique_violation_twice_is_rejected_in_words(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row whose writes meet a unique violation on every try (the database refusing a key the
    row's read did not find) is a rejected row naming the card number masked, nothing of it
    written; the other rows go on, through the API and the CLI (it was the API's 500 and the
    CLI's traceback for the whole import)."""
    app = _app(db_url)
    clash = engine_of(app).db.dialect.loaded_dbapi.IntegrityError
    real = imports._row

    def clashing(*args: Any) -> Any:
        done = real(*args)  # the row's writes, then the violation: all rolled back
        if args[4]["id_number"] == LIANG:
            raise clash(
                "UNIQUE constraint failed: wf_idempotency_key.scope, wf_idempotency_key.key"
            )
        return done

    monkeypatch.setattr(imports, "_row", clashing)
    card = {"card_bank": "icbc", "card_state": "active"}
    rows = [
        {"id_number": LIANG, "name": "梁", "region": "foshan", "card_number": "6217555", **card},
        {"id_number": CHEN, "name": "陈明", "region": "foshan", "card_number": "6217666", **card},
    ]
    token = create_token(engine_of(app).db, "importer", ["import"])
    answer = app.test_client().post(
        "/api/v1/imports/people",
        json={"rows": rows},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.json["applied"] == 1
    [rejected] = answer.json["rejected"]
    assert rejected["line"] == 1
    assert rejected["reason_zh"].startswith("社保卡号 62***55的资料正由另一导入同时写入")
    assert "nothing of this row was written" in rejected["reason"]
    assert "6217555" not in str(answer.json) and LIANG not in str(answer.json)
    assert queries.by_business_key(engine_of(app).db, "person", LIANG) == []
    assert queries.by_business_key(engine_of(app).db, "card", f"44:{LIANG}") == []

    text = ",".join(rows[0]) + "\n" + ",".join(rows[0].values()) + "\n"
    printed = _run(app, "import", "people", _file(tmp_path, "p.csv", text))
    assert printed.exit_code == 1, printed.output
    assert "line 2: 社保卡号 62***55的资料正由另一导入同时写入" in printed.output
    assert "/ card 62***55 was written by another import at the same time" in printed.output
    assert queries.by_business_key(engine_of(app).db, "person", LIANG) == []
