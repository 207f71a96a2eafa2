"""The definitions are the single source of state facts: no hand-kept state names in the code.

Rules that depend on which states are usable, paid, live, renewable or steps of progress ask the
definition for the states carrying a tag (``definition.tagged("usable")``), and which outside
scopes may send an event comes from its ``senders:``. This test reads every definition and fails
when the domain (``workflows/``) or the web layer (``web/``) spells a state's name as a string,
which is how a hand-kept list of states starts. The few words that happen to equal a state's name
but mean something else are listed with the reason.
"""

from __future__ import annotations

import ast

from engine.definition import load_definitions
from web.config import PROJECT_ROOT

# (file, word): why the word is not a state there.
NOT_STATES = {
    ("workflows/imports.py", "applied"): "an import row's outcome (applied/unchanged/rejected)",
    ("web/cli/domain.py", "applied"): "counting import rows by outcome",
    ("web/security_words.py", "applied"): "an import's row count by outcome, in a security event",
    ("web/staff.py", "active"): "the staff account's active flag column",
}


def _state_names() -> set[str]:
    definitions = load_definitions(PROJECT_ROOT / "definitions")
    return {state for d in definitions.values() for state in d.states}


def spelled_states(source: str, states: set[str]) -> list[tuple[int, str]]:
    """(line, word) of every string constant in ``source`` that is a state's name."""
    return [
        (node.lineno, node.value)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in states
    ]


def test_no_state_name_is_spelled_in_the_domain_or_the_web_layer() -> None:
    states = _state_names()
    found = []
    for folder in ("workflows", "web"):
        for path in sorted((PROJECT_ROOT / folder).rglob("*.py")):
            relative = str(path.relative_to(PROJECT_ROOT))
            for line, word in spelled_states(path.read_text(encoding="utf-8"), states):
                if (relative, word) not in NOT_STATES:
                    found.append(f"{relative}:{line}: {word!r}")
    assert found == [], "state names spelled in code; use tags of the definition:\n" + "\n".join(
        found
    )


def test_the_rules_read_their_states_from_the_definitions_tags() -> None:
    """Each tag the code asks for is carried by at least one state of the definition it asks."""
    definitions = load_definitions(PROJECT_ROOT / "definitions")
    used = {
        ("card", "usable"),
        ("card", "replaceable"),
        ("card", "progress"),
        ("card", "electronic_card"),
        ("card", "loss_pending"),
        ("card_review", "live"),
        ("person", "live"),
        ("person", "on_books"),
        ("enrollment", "live"),
        ("enrollment", "paid"),
        ("enrollment", "payable"),
        ("enrollment", "renews"),
        ("enrollment", "renewal"),
    }
    missing = sorted((p, t) for p, t in used if not definitions[p].tagged(t))
    assert missing == []
    # and the API's event scopes come from the definitions' senders
    assert definitions["card"].sendable()["produce"] == ("factory",)
    assert definitions["enrollment"].sendable()["deduct"] == ("tax",)


def test_the_scan_notices_a_hand_kept_list() -> None:
    """The scan is not vacuous: a module listing states is caught, tag lookups are not."""
    module = 'USABLE = ("applied", "produced", "active")\nX = d.tagged("usable")\n'
    assert spelled_states(module, _state_names()) == [
        (1, "applied"),
        (1, "produced"),
        (1, "active"),
    ]
