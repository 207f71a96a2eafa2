"""The ``shebao people`` commands: register a person (参保登记), claim a reduction after
registering and open a policy year, through the same operations as the API (``workflows.people``,
``workflows.reductions``), for counter staff working in a terminal.

ID numbers are read from the ``--id-number`` option or, with ``--id-number -``, from standard input
(so they need not appear in the shell history); the answers show them masked.
"""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from engine.errors import WorkflowError
from web.extensions import domain_of, engine_of
from workflows.identity import mask_id_number
from workflows.people import PERSON_FLAGS, RESIDENCE_DOCUMENTS, Registration, register_person
from workflows.reductions import claim_reduction
from workflows.years import open_year


def _id_number(value: str) -> str:
    return sys.stdin.readline().strip() if value == "-" else value.strip()


@click.group("people")
def people() -> None:
    """Insured people: registration (参保登记) and their policy years."""


@people.command("register")
@click.option(
    "--id-number", required=True, help="The resident ID number, or - to read it from stdin."
)
@click.option("--name", required=True)
@click.option(
    "--region", required=True, help="Where the household register or permit is: foshan, huian."
)
@click.option(
    "--residence",
    type=click.Choice(RESIDENCE_DOCUMENTS),
    default=RESIDENCE_DOCUMENTS[0],
    show_default=True,
)
@click.option("--household", default=None, help="Household number (户号).")
@click.option(
    "--reduction",
    "reductions",
    multiple=True,
    help="A reduction category of the region's policy (e.g. dibao, low_income); repeatable.",
)
@click.option(
    "--flag",
    "flags",
    multiple=True,
    type=click.Choice(PERSON_FLAGS),
    help="A fact the reductions and late-payment rules read (e.g. disabled); repeatable. "
    "newborn, new_student and left_employee_insurance count in the person's first year only.",
)
@click.option("--actor", default="counter-cli", show_default=True)
@with_appcontext
def register(
    id_number: str,
    name: str,
    region: str,
    residence: str,
    household: str | None,
    reductions: tuple[str, ...],
    flags: tuple[str, ...],
    actor: str,
) -> None:
    """Register a person with no record; a medical-insurance clerk of the region checks it."""
    person = Registration(
        id_number=_id_number(id_number),
        name=name,
        region=region,
        residence=residence,
        household=household,
        reduction_categories=reductions,
        flags=flags,
    )
    try:
        done = register_person(engine_of(), domain_of(), person, actor=actor)
    except WorkflowError as exc:
        raise click.ClickException(str(exc)) from None  # 中文 / English
    click.echo(
        f"registered {mask_id_number(person.id_number)}: record {done.instance_id} "
        f"({done.to_state}); a clerk of {region} checks the documents in the inbox"
    )


@people.command("open-year")
@click.option(
    "--id-number", required=True, help="The resident ID number, or - to read it from stdin."
)
@click.option("--policy", "policy_id", required=True, help="The policy year, e.g. huian-2023.")
@click.option("--actor", default="counter-cli", show_default=True)
@with_appcontext
def open_year_command(id_number: str, policy_id: str, actor: str) -> None:
    """Open a policy year for an insured person (awaiting the first payment)."""
    number = _id_number(id_number)
    try:
        done = open_year(engine_of(), domain_of(), number, policy_id, actor=actor)
    except WorkflowError as exc:
        raise click.ClickException(str(exc)) from None  # 中文 / English
    click.echo(
        f"opened {policy_id} for {mask_id_number(number)}: enrollment {done.instance_id} "
        f"({done.to_state})"
    )


@people.command("claim-reduction")
@click.option(
    "--id-number", required=True, help="The resident ID number, or - to read it from stdin."
)
@click.option(
    "--category", required=True, help="A reduction category of the region's policy (e.g. dibao)."
)
@click.option(
    "--evidence", required=True, help="The certificate and its number (低保证 ..., 残疾证 ...)."
)
@click.option("--actor", default="counter-cli", show_default=True)
@with_appcontext
def claim_reduction_command(id_number: str, category: str, evidence: str, actor: str) -> None:
    """An insured person claims a reduction after registering (资助参保); a clerk reviews it."""
    number = _id_number(id_number)
    try:
        done = claim_reduction(engine_of(), domain_of(), number, category, evidence, actor=actor)
    except WorkflowError as exc:
        raise click.ClickException(str(exc)) from None  # 中文 / English
    click.echo(
        f"claimed {category} for {mask_id_number(number)}: record {done.instance_id} "
        f"({done.to_state}); a clerk reviews it in the inbox"
    )


def register_commands(main: click.Group) -> None:
    main.add_command(people)
