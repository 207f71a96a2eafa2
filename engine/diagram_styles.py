"""The look of process diagrams: fonts, shapes, state styles, load colours, words, label markup.

The tables are data; ``engine.diagram`` and ``engine.diagram_live`` read them and nothing else
decides a colour or a shape (the process definitions carry no styling at all). Values are Graphviz
attributes (strings). The few functions at the end write a state's HTML-like label and a timer's
text from these tables.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import escape

from engine.definition import Label, StateSpec, TimerSpec

# The CJK font the project's set-up installs beside Graphviz (Debian's ``fonts-noto-cjk``).
FONT = "Noto Sans CJK SC"
INSTALL_HINT = "sudo apt-get install graphviz fonts-noto-cjk"

GRAPH: dict[str, str] = {
    "rankdir": "LR",
    "nodesep": "0.35",
    "ranksep": "0.7",
    "fontname": FONT,
    "bgcolor": "white",
    "pad": "0.2",
}
NODE_DEFAULT: dict[str, str] = {"fontname": FONT, "fontsize": "11", "margin": "0.08,0.04"}
EDGE_DEFAULT: dict[str, str] = {
    "fontname": FONT,
    "fontsize": "9",
    "color": "#4a5568",
    "fontcolor": "#2d3748",
    "arrowsize": "0.7",
}

# BPMN's visual language: events are circles (an end event's line is thick), activities rounded boxes.
START_EVENT: dict[str, str] = {
    "shape": "circle",
    "label": "",
    "width": "0.32",
    "fixedsize": "true",
    "color": "#2f855a",
    "penwidth": "1.5",
}
END_EVENT: dict[str, str] = {
    "shape": "circle",
    "label": "",
    "width": "0.32",
    "fixedsize": "true",
    "color": "#9b2c2c",
    "penwidth": "4",
}
ACTIVITY: dict[str, str] = {"shape": "box", "style": "rounded,filled"}

# How a state looks, by its role in the picture.
STATE_STYLES: dict[str, dict[str, str]] = {
    "default": {"fillcolor": "#f7fafc", "color": "#4a5568", "fontcolor": "#1a202c"},
    "user_task": {"fillcolor": "#ebf8ff", "color": "#2b6cb0", "fontcolor": "#1a202c"},
    "current": {
        "fillcolor": "#fefcbf",
        "color": "#c05621",
        "fontcolor": "#1a202c",
        "penwidth": "3",
    },
    "visited": {"fillcolor": "#c6f6d5", "color": "#276749", "fontcolor": "#1a202c"},
    "not_visited": {"fillcolor": "#ffffff", "color": "#cbd5e0", "fontcolor": "#a0aec0"},
}
EDGE_STYLES: dict[str, dict[str, str]] = {
    "default": {},
    "timer": {"style": "dashed"},
    "visited": {"color": "#276749", "fontcolor": "#276749", "penwidth": "2.2"},
    "not_visited": {"color": "#cbd5e0", "fontcolor": "#a0aec0"},
}
TIMER_CELL: dict[str, str] = {"COLOR": "#b7791f", "BGCOLOR": "#fffaf0"}

# Load colours: (largest share of the busiest state's count, name, fill, stroke), first match wins.
LOAD_COLOURS: tuple[tuple[float, str, str, str], ...] = (
    (0.0, "idle", "#ffffff", "#a0aec0"),
    (0.1, "low", "#f0fff4", "#38a169"),
    (0.35, "medium", "#fefcbf", "#d69e2e"),
    (0.7, "high", "#feebc8", "#dd6b20"),
    (1.0, "peak", "#fed7d7", "#c53030"),
)
ENDED = (0.0, "ended", "#f7fafc", "#4a5568")  # final states: counts only, never "busy"
INCIDENT = ("#fde8e8", "#c53030")  # fill and border of a state with open incidents
FLOW_WIDTH: tuple[float, float] = (1.0, 4.0)  # pen width of an idle flow and of the busiest one
# The age heat: upper bounds in days of the low, medium, high and peak bands (LOAD_COLOURS[1:]).
AGE_DAYS: tuple[float, ...] = (7.0, 30.0, 90.0, float("inf"))
# The live layout reserves the width of these texts for a state's count and its heat line, so
# a busy state's label keeps its font size and stays inside its box (``compact`` keeps numbers
# within them).
COUNT_SLOT = "0,000,000"
HEAT_SLOT = "overdue 0,000,000 ⚠0,000"

# Words the pictures use beside the definitions' own labels.
WORDS: dict[str, Label] = {
    "group": Label("候选组：", "Group: "),
    "task": Label("用户任务：", "User task: "),
    "message": Label("等待外部消息", "Waits for a message"),
    "timer": Label("定时：", "Timer: "),
    "steps": Label("步骤 ", "Step "),
    "overdue": Label("逾期 ", "overdue "),
    "oldest": Label("最久 ", "oldest "),
    "days": Label("天", " d"),
    "legend_empty": Label("无实例", "no instances"),
}
# Candidate groups by name; a group not listed is shown by its name.
GROUPS: dict[str, Label] = {
    "bank_teller": Label("银行柜员", "bank teller"),
    "social_security_clerk": Label("社保经办员", "social security clerk"),
    "medical_insurance_clerk": Label("医保经办员", "medical insurance clerk"),
}
# Policy dates that timers name; one not listed is shown by its dotted path.
POLICY_DATES: dict[str, Label] = {
    "payment_period.end": Label("缴费期结束日", "end of the payment period"),
    "payment_period.start": Label("缴费期开始日", "start of the payment period"),
    "card.activation_reminder_after": Label("提醒间隔（地区政策）", "reminder interval (region)"),
    "card.uncollected_card_sealed_after": Label("封存期限（地区政策）", "sealing term (region)"),
    "card.uncollected_card_returned_after": Label(
        "网点收回期限（地区政策）", "take-back term (region)"
    ),
    "card.loss_report_lapses_after": Label(
        "临时挂失期限（地区政策）", "temporary loss term (region)"
    ),
}
# ISO 8601 duration units, for "P30D" -> "30天" / "30 days".
DURATION_UNITS: dict[str, Label] = {
    "Y": Label("年", "year"),
    "M": Label("个月", "month"),
    "W": Label("周", "week"),
    "D": Label("天", "day"),
    "TH": Label("小时", "hour"),
    "TM": Label("分钟", "minute"),
    "TS": Label("秒", "second"),
}


def load_colour(count: int, busiest: int) -> tuple[float, str, str, str]:
    """The ``LOAD_COLOURS`` row for ``count`` when the busiest element has ``busiest``."""
    if count <= 0:
        return LOAD_COLOURS[0]
    share = count / max(busiest, 1)
    return next((row for row in LOAD_COLOURS[1:] if share <= row[0]), LOAD_COLOURS[-1])


def compact(number: int, width: int = len(COUNT_SLOT)) -> str:
    """``number`` with thousands separators, or shortened (``12.3M``) when that is wider than
    ``width`` characters: the live layout's text never outgrows the width it reserved."""
    text = f"{number:,}"
    if len(text) <= width:
        return text
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(number) >= size:
            short = f"{number / size:.1f}".removesuffix(".0") + suffix
            if len(short) <= width:
                return short
            return f"{number / size:,.0f}{suffix}"
    return text


_DURATION = re.compile(r"(\d+)([YMWD])|T?(\d+)([HMS])")


def timer_text(timer: TimerSpec, lang: str) -> str:
    """What a boundary timer says: its ISO duration and its length in words, or its policy date."""
    if timer.after is None:
        policy = timer.policy or ""
        return WORDS["timer"].get(lang) + (
            POLICY_DATES[policy].get(lang) if policy in POLICY_DATES else policy
        )
    parts = []
    for number, unit, t_number, t_unit in _DURATION.findall(timer.after.text[1:]):
        n, key = (number, unit) if number else (t_number, "T" + t_unit)
        word = DURATION_UNITS[key].get(lang)
        parts.append(f"{n}{word}" if lang != "en" else f"{n} {word}{'s' if n != '1' else ''}")
    return f"{WORDS['timer'].get(lang)}{timer.after.text} ({' '.join(parts)})"


def _row(text: str, size: int | None = None) -> str:
    body = escape(text) if size is None else f'<FONT POINT-SIZE="{size}">{escape(text)}</FONT>'
    return f"<TR><TD>{body}</TD></TR>"


def state_label(spec: StateSpec, lang: str, extra: Sequence[str]) -> str:
    """A state as an HTML-like label: its name, its task or wait, ``extra`` lines, its timers."""
    rows = [_row(spec.label.get(lang))]
    if spec.task:
        group = GROUPS.get(spec.task.candidate_group)
        rows.append(_row(WORDS["task"].get(lang) + spec.task.label.get(lang), 8))
        rows.append(
            _row(
                WORDS["group"].get(lang)
                + (group.get(lang) if group else spec.task.candidate_group),
                8,
            )
        )
    elif not spec.final:
        rows.append(_row(WORDS["message"].get(lang), 8))
    rows += [_row(text) for text in extra]
    if spec.timers:
        cell = " ".join(f'{k}="{v}"' for k, v in TIMER_CELL.items())
        cells = "".join(
            f'<TD PORT="t{i}" BORDER="1" STYLE="rounded" {cell}>'
            f'<FONT POINT-SIZE="8">{escape(timer_text(t, lang))}</FONT></TD>'
            for i, t in enumerate(spec.timers)
        )
        rows.append(f'<TR><TD><TABLE BORDER="0" CELLSPACING="2"><TR>{cells}</TR></TABLE></TD></TR>')
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="1">{"".join(rows)}</TABLE>>'
