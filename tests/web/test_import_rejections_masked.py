"""A people import's rejection quotes what the row said, every resident ID number in it masked
(QA B.1): a column shift puts someone's ID number into ``card_bank``, ``region``, ``flags``,
``reduction_categories`` or ``card_region_code`` (or a header cell), and the rejection came back
with it whole, in ``message_zh/en`` and ``reason_zh/en`` of ``POST /imports/people`` and on the
standard output of ``shebao import people``. It is masked as ``POST /registrations`` masks the
same value (``unknown region 'a440600********0494'``), and the row is still rejected in words."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from click.testing import Result
from flask import Flask

from engine import queries
from engine.clock import SimulatedClock
from web.api.tokens import create_token
from web.app import create_app
from web.cli.main import main
from web.extensions import engine_of
from workflows.identity import make_id_number, mask_id_number

PERSON = make_id_number("440604", date(1980, 1, 1), 906)
HUIAN_PERSON = make_id_number("350521", date(1970, 1, 1), 104)
SHIFTED = make_id_number("440600", date(1971, 12, 6), 49)
"""Someone else's ID number, in a column it does not belong in."""
OTHER = make_id_number("350521", date(1970, 1, 1), 105)
MASKED = mask_id_number(SHIFTED)
MASKED_OTHER = mask_id_number(OTHER)


def _app(url: str) -> Flask:
    return create_app(
        {"SHEBAO_DATABASE_URL": url, "TESTING": True},
        clock=SimulatedClock(datetime(2021, 10, 12, 2, tzinfo=UTC)),
    )


def _run(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(main, list(args))


SHIFTED_ROWS = [
    (
        {"card_number": "C1", "card_bank": SHIFTED, "card_state": "active"},
        "is not a partner bank of Foshan",
        "不是佛山市的社保卡合作银行",
        MASKED,
    ),
    ({"region": "a" + SHIFTED}, "unknown region 'a" + MASKED, "未知的参保地", MASKED),
    ({"flags": "disabled|x" + SHIFTED}, "unknown flag x" + MASKED, "未知的申报情形", MASKED),
    (
        {"region": "huian", "reduction_categories": OTHER},
        "has no reduction category " + MASKED_OTHER,
        "没有减免类别",
        MASKED_OTHER,
    ),
]
"""Each row's shifted column, what its rejection says in English and in Chinese, and the masked
number the rejection shows."""


def _row(shifted: dict[str, str]) -> dict[str, str]:
    who = HUIAN_PERSON if shifted.get("region") == "huian" else PERSON
    return {"id_number": who, "name": "丙", "region": "foshan", **shifted}


def test_the_api_masks_an_id_number_in_every_column_a_rejection_quotes(db_url: str) -> None:
    app = _app(db_url)
    token = create_token(engine_of(app).db, "importer", ["import"])
    answer = app.test_client().post(
        "/api/v1/imports/people",
        json={"rows": [_row(shifted) for shifted, *_ in SHIFTED_ROWS]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.json
    said = answer.get_data(as_text=True)
    assert SHIFTED not in said and OTHER not in said
    assert answer.json["applied"] == 0
    rejected = answer.json["rejected"]
    assert [r["line"] for r in rejected] == [1, 2, 3, 4]
    for row, (_, en, zh, masked) in zip(rejected, SHIFTED_ROWS, strict=True):
        assert en in row["message_en"] and en in row["reason"], row
        assert zh in row["message_zh"] and zh in row["reason_zh"], row
        assert masked in row["message_zh"], row
    assert queries.total_instances(engine_of(app).db) == 0  # nothing of a rejected row written


def test_the_command_masks_an_id_number_in_every_column_a_rejection_quotes(
    db_url: str, tmp_path: Path
) -> None:
    app = _app(db_url)
    columns = "id_number,name,region,reduction_categories,flags,card_number,card_bank,card_state"
    rows = [
        # QA's column shift: the card number and the bank swapped
        f"{HUIAN_PERSON},丁,huian,,,X-QAB-9,{OTHER},active",
        f"{PERSON},丙,a{SHIFTED},,,,,",
        f"{PERSON},丙,foshan,,disabled|x{SHIFTED},,,",
        f"{HUIAN_PERSON},丁,huian,{OTHER},,,,",
    ]
    path = tmp_path / "shift.csv"
    path.write_text(columns + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    result = _run(app, "import", "people", str(path))
    assert result.exit_code == 1, result.output
    assert SHIFTED not in result.output and OTHER not in result.output, result.output
    assert f"line 2: {MASKED_OTHER} 不是惠安县的社保卡合作银行 / {MASKED_OTHER} is not" in (
        result.output
    )
    assert f"line 3: 未知的参保地：a{MASKED}" in result.output
    assert f"unknown region 'a{MASKED}'" in result.output
    assert f"line 4: 未知的申报情形：x{MASKED}" in result.output
    assert f"line 5: 惠安县没有减免类别：{MASKED_OTHER}" in result.output
    assert queries.total_instances(engine_of(app).db) == 0


def test_a_card_region_code_or_a_header_cell_holding_an_id_number_is_masked(
    sqlite_url: str, tmp_path: Path
) -> None:
    """The file's door only: the API's model takes six digits for ``card_region_code`` and names
    an unknown key ``<key>``."""
    app = _app(sqlite_url)
    path = tmp_path / "code.csv"
    path.write_text(
        "id_number,name,region,card_number,card_bank,card_state,card_region_code\n"
        f"{PERSON},丙,foshan,C2,icbc,active,{SHIFTED}\n",
        encoding="utf-8",
    )
    result = _run(app, "import", "people", str(path))
    assert result.exit_code == 1, result.output
    assert SHIFTED not in result.output
    assert f"line 2: 本系统不办理该地区的社保卡：{MASKED}" in result.output, result.output

    path.write_text(f"id_number,name,region,{SHIFTED}\n{PERSON},丙,foshan,x\n", encoding="utf-8")
    result = _run(app, "import", "people", str(path))
    assert result.exit_code == 1, result.output
    assert SHIFTED not in result.output
    assert f"line 2: 未知的列：{MASKED} / unknown columns: {MASKED}" in result.output
    assert queries.total_instances(engine_of(app).db) == 0


def test_the_people_commands_mask_the_values_they_quote(sqlite_url: str, tmp_path: Path) -> None:
    """The rules the import shares with the counter's commands quote the value masked there
    too (``shebao people register``, ``shebao people claim-reduction``)."""
    app = _app(sqlite_url)
    result = _run(
        app, "people", "register", "--id-number", PERSON, "--name", "丙", "--region", "a" + SHIFTED
    )
    assert result.exit_code == 1, result.output
    assert SHIFTED not in result.output and f"unknown region 'a{MASKED}'" in result.output

    path = tmp_path / "one.csv"
    path.write_text(f"id_number,name,region\n{HUIAN_PERSON},丁,huian\n", encoding="utf-8")
    assert _run(app, "import", "people", str(path)).exit_code == 0
    result = _run(
        app,
        "people",
        "claim-reduction",
        "--id-number",
        HUIAN_PERSON,
        "--category",
        "c" + SHIFTED,
        "--evidence",
        "低保证",
    )
    assert result.exit_code == 1, result.output
    assert SHIFTED not in result.output
    assert f"参保地没有减免类别“c{MASKED}”" in result.output
    assert f"no reduction category 'c{MASKED}'" in result.output
