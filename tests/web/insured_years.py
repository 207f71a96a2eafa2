"""A person on the books in Hui'an with the huian-2023 year open, as API tests start from one."""

from __future__ import annotations

from flask import Flask

from engine import queries
from web.app import engine_of
from web.extensions import domain_of
from workflows.imports import import_people


def insured_year(app: Flask, id_number: str) -> int:
    """``id_number`` brought in to Hui'an by an import while huian-2023's payment period is open
    (the service's clock): the import opens the year; its id."""
    row = {"id_number": id_number, "name": "张三", "region": "huian"}
    report = import_people(engine_of(app), domain_of(app), [(1, row)], actor="t")
    assert report.rejected == [], report.as_dict()
    [(year, _)] = queries.by_business_key(
        engine_of(app).db, "enrollment", f"{id_number}:huian-2023"
    )
    return int(year)
