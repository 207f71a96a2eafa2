"""The facts a person may declare at registration (``flags``) and their words: what the
reductions' conditions and the late-payment rules read, and what a clerk sees.

Source: quanzhou-huian-cards-and-2023-medical-insurance.txt (line 59: the low-income reduction
for the disabled, 残疾人); NOTES.md (Quanzhou 2023): who is spared the subsidy when paying late.
Kept apart from ``workflows.people`` so that the reductions' conditions
(``workflows.reduction_conditions``), which registration checks, can read them too.
"""

from __future__ import annotations

from workflows.policy import Label

PERSON_FLAG_WORDS = {
    "disabled": Label("残疾人", "Disabled person"),  # huian.txt:59
    "newborn": Label("新生儿", "Newborn"),
    "new_student": Label("新入学学生", "New student"),
    "left_employee_insurance": Label("职工医保转出人员", "Left employee medical insurance"),
}
"""Each flag with the words it reads as to staff (a clerk checking a registration sees them)."""
PERSON_FLAGS = tuple(PERSON_FLAG_WORDS)

__all__ = ["PERSON_FLAGS", "PERSON_FLAG_WORDS"]
