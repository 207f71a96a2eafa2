"""A file whose header lacks a required column is refused showing the header as it was read, and
a GBK file that starts with a UTF-8 byte order mark is refused saying so (QA B.8): it was
refused as ``缺少列：id_number / missing columns: id_number`` although the column is visibly there
(the mark and the first letter were read as GBK ``锘縤d_number``), leaving the operator to guess.
Both imports read files alike (``shebao import deductions`` and ``shebao import people``)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from click.testing import Result
from flask import Flask

from engine import queries
from engine.clock import SimulatedClock
from web.app import create_app
from web.cli.main import main
from web.extensions import engine_of
from workflows.identity import make_id_number, mask_id_number

PERSON = make_id_number("350521", date(1980, 3, 3), 17)
BOM = b"\xef\xbb\xbf"


def _app(url: str) -> Flask:
    return create_app(
        {"SHEBAO_DATABASE_URL": url, "TESTING": True},
        clock=SimulatedClock(datetime(2022, 10, 2, 2, tzinfo=UTC)),
    )


def _run(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(main, list(args))


def _deductions(app: Flask, path: Path) -> Result:
    return _run(app, "import", "deductions", str(path), "--policy", "huian-2023")


def test_a_gbk_file_with_a_utf8_byte_order_mark_is_refused_saying_so(
    sqlite_url: str, tmp_path: Path
) -> None:
    app = _app(sqlite_url)
    path = tmp_path / "gbk-bom.csv"
    text = f"id_number,policy_year,amount,result,reason\n{PERSON},2023,360.00,failed,余额不足\n"
    path.write_bytes(BOM + text.encode("gbk"))
    result = _deductions(app, path)
    assert result.exit_code == 1, result.output
    assert "字节顺序标记" in result.output and "byte order mark" in result.output, result.output
    assert "GBK" in result.output and "nothing was imported" in result.output
    assert "缺少列" not in result.output and PERSON not in result.output

    people = tmp_path / "people-bom.csv"
    people.write_bytes(BOM + f"id_number,name,region\n{PERSON},李四娜,huian\n".encode("gbk"))
    result = _run(app, "import", "people", str(people))
    assert result.exit_code == 1, result.output
    assert "字节顺序标记" in result.output and "byte order mark" in result.output, result.output
    assert queries.total_instances(engine_of(app).db) == 0
    # without the mark, the same GBK file is read
    people.write_bytes(f"id_number,name,region\n{PERSON},李四娜,huian\n".encode("gbk"))
    result = _run(app, "import", "people", str(people))
    assert result.exit_code == 0, result.output
    assert "applied: 1" in result.output


def test_missing_columns_are_refused_showing_the_header_as_read(
    sqlite_url: str, tmp_path: Path
) -> None:
    app = _app(sqlite_url)
    path = tmp_path / "semicolons.csv"
    path.write_text("id_number;policy_year;amount;result\n", encoding="utf-8")
    result = _deductions(app, path)
    assert result.exit_code == 1, result.output
    assert "缺少列：id_number, policy_year, amount, result" in result.output, result.output
    assert "读到的表头：'id_number;policy_year;amount;result'" in result.output
    assert "the header read: 'id_number;policy_year;amount;result'" in result.output

    # no header line: the first row is read as one, the ID number in it masked
    path = tmp_path / "no-header.csv"
    path.write_text(f"{PERSON},李四娜,huian\n", encoding="utf-8")
    result = _run(app, "import", "people", str(path))
    assert result.exit_code == 1, result.output
    assert PERSON not in result.output
    assert f"the header read: '{mask_id_number(PERSON)}', '李四娜', 'huian'" in result.output
    assert queries.total_instances(engine_of(app).db) == 0
