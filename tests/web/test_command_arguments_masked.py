"""A command refusing an argument quotes it (Click's "Invalid value for '--flag': ..."): an ID
number typed into the wrong option (a flag, a residence document) is shown masked, as every other
door shows it (QA: `shebao people register --flag x<ID>` printed it whole)."""

from __future__ import annotations

from datetime import date

from click.testing import CliRunner

from web.cli.main import main
from workflows.identity import make_id_number, mask_id_number

PERSON = make_id_number("350521", date(1970, 1, 1), 105)
OTHER = make_id_number("350521", date(1970, 1, 1), 113)


def test_a_refused_option_value_shows_an_id_number_masked(sqlite_url: str) -> None:
    env = {"SHEBAO_DATABASE_URL": sqlite_url}
    for option in ("--flag", "--residence"):
        ran = CliRunner().invoke(
            main,
            [
                "people",
                "register",
                PERSON,
                "--name",
                "张三",
                "--region",
                "huian",
                option,
                f"x{OTHER}",
            ],
            env=env,
        )
        assert ran.exit_code == 2, ran.output
        assert "Invalid value" in ran.output and option in ran.output
        assert OTHER not in ran.output and PERSON not in ran.output
        assert mask_id_number(OTHER) in ran.output
