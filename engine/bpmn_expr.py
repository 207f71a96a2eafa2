"""Expressions in the exported BPMN, in the two languages we write: Python and JUEL.

The default export is for engines that evaluate Python expressions (SpiffWorkflow): a condition is
``outcome == "approve_refund" and guard_refund_rule == True``, a timer value a Python string literal
(``"P30D"``, ``"2023-01-01T00:00:00+08:00"``). The Camunda 7 dialect uses JUEL, Camunda's default:
``${outcome == 'approve_refund' && guard_refund_rule == true}``, and bare ISO 8601 timer values.

The variables: ``outcome`` is the event a user task with several outcomes ended with (a form field
of the task), ``start_state`` the initial state an instance starts in, and ``guard_<name>`` is True
when the domain guard ``<name>`` passed: guards are domain code (an ID number matching the
application, a payment inside the period), so the engine that runs the process sets these variables
when it checks the guard. A condition with nothing to test (an automatic event without guards) is
``True`` (``${true}``). Parsing reads both languages back for the import.
"""

from __future__ import annotations

import re

from engine.bpmn_model import Condition

PYTHON = "default"
CAMUNDA = "camunda7"
DIALECTS = (PYTHON, CAMUNDA)
PYTHON_LANGUAGE = "https://docs.python.org/3/reference/expressions.html"

_TERM = re.compile(r"""^(outcome|start_state)\s*==\s*(["'])([a-z][a-z0-9_]*)\2$""")
_GUARD = re.compile(r"^guard_([a-z][a-z0-9_]*)\s*==\s*(True|true)$")
_SPLIT = re.compile(r"\s+(?:and|&&)\s+")
_STRING = re.compile(r"""^(["'])(.*)\1$""")


class ExpressionError(ValueError):
    """An expression the engine cannot read back."""


def condition(cond: Condition, dialect: str) -> str:
    """``cond`` as an expression of ``dialect``."""
    python = dialect == PYTHON
    quote = '"' if python else "'"
    terms = []
    if cond.start_state:
        terms.append(f"start_state == {quote}{cond.start_state}{quote}")
    if cond.outcome:
        terms.append(f"outcome == {quote}{cond.outcome}{quote}")
    terms += [f"guard_{g} == {'True' if python else 'true'}" for g in cond.guards]
    if not terms:  # nothing to test (an automatic event without guards): always taken
        terms.append("True" if python else "true")
    if python:
        return " and ".join(terms)
    return "${" + " && ".join(terms) + "}"


def parse_condition(text: str) -> Condition:
    """A condition written by ``condition`` (in either language), read back.

    Raises:
        ExpressionError: the text is something else.
    """
    body = text.strip()
    if body.startswith("${") and body.endswith("}"):
        body = body[2:-1].strip()
    values: dict[str, str] = {}
    guards: list[str] = []
    if body in ("True", "true"):
        return Condition()
    for term in _SPLIT.split(body):
        found = _TERM.match(term.strip())
        guard = _GUARD.match(term.strip())
        if found:
            values[found.group(1)] = found.group(3)
        elif guard:
            guards.append(guard.group(1))
        else:
            raise ExpressionError(
                f'cannot read {term.strip()!r}: the engine understands outcome == "<event>", '
                'start_state == "<state>" and guard_<name> == True, joined by "and"'
            )
    return Condition(values.get("outcome"), tuple(guards), values.get("start_state"))


def timer_value(value: str, dialect: str) -> str:
    """An ISO 8601 timer value as the dialect writes it."""
    return f'"{value}"' if dialect == PYTHON else value


def parse_timer_value(text: str) -> str:
    """The ISO 8601 value of a timer expression (a Python string literal or a bare value)."""
    body = text.strip()
    quoted = _STRING.match(body)
    return quoted.group(2).strip() if quoted else body
