"""The inbox's query parameters, checked before anything is read: a parameter the page does not
know (``?due=3`` for ``?within=3``, ``?page=2``, ``?scope=cgb``) or a value it does not offer
(``?within=abc``, ``?kind=nosuch``, ``?after=garbage``, ``?sort=x``, a region outside the user's
scope) is named, so that the page answers 400 in words on the service's error page instead of an
unfiltered list that looks like the filtered one (as the API refuses a parameter it does not
declare: ``web.api.query_args``). Empty values mean "any", as the filter bar sends them."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from engine.definition import Label
from web.api.bodies import loc_part
from web.pages import inbox_queries as iq

FLAGS = ("overdue", "mine", "following")
"""Boxes of the filter bar: ticked sends ``1``."""

WORD_OF = {
    "group": "group",
    "kind": "kind",
    "region": "region",
    "within": "due_within",
    "sort": "sort_by",
    "after": "next",
    "overdue": "overdue_only",
    "mine": "mine",
    "following": "following_up",
}
"""Each parameter by the filter bar's word for it (the page key), to name it in the refusal."""

KNOWN = frozenset({*WORD_OF, "lang"})
"""Every parameter the inbox's own links and forms send: the filter bar's (which saved filters
keep), the pager's ``after`` and the language switch's ``lang``."""


def regions_of(scope: str | None, regions: Mapping[str, Label]) -> dict[str, Label]:
    """The regions an inbox of a user of ``scope`` may be filtered by: a region's clerk, their
    own; others (a bank's tellers, supervisors) every one."""
    if scope is not None and scope in regions:
        return {scope: regions[scope]}
    return dict(regions)


def unknown_argument(names: Iterable[str]) -> str | None:
    """The first of the parameters ``names`` that the inbox does not know (None: all known),
    named as the API names one (``loc_part``): a name that does not look like a field's is
    ``<key>``, so that no ID number typed into the address comes back on the page."""
    for name in names:
        if name not in KNOWN:
            return loc_part(name)
    return None


def bad_argument(
    args: Mapping[str, str],
    *,
    groups: Collection[str],
    kinds: Collection[str],
    regions: Collection[str],
) -> str | None:
    """The first parameter of ``args`` whose value the inbox does not offer (None: all good).

    ``groups``: those the user may pick (a supervisor's; others send none that counts), ``kinds``
    the task kinds of the group shown, ``regions`` the regions the user may see."""
    offered = {"group": groups, "kind": kinds, "region": regions, "sort": iq.SORTS}
    for name, values in offered.items():
        if args.get(name) and args[name] not in values:
            return name
    for name in FLAGS:
        if args.get(name) not in (None, "", "0", "1"):
            return name
    within = args.get("within") or ""
    if within and not (within.isascii() and within.isdigit() and int(within[:5]) <= 3650):
        return "within"
    after = args.get("after")
    if after and iq.Cursor.decode(after, args.get("sort") or "due") is None:
        return "after"
    return None
