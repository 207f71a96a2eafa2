"""Incidents in words, in Chinese and English, for the supervisor page, ``shebao incidents list``
and the admin API: the step that failed, and what a notice's delivery error means.

- The step: a timer's event by the definition's label (``lapse_loss_report``: 临时挂失到期),
  a notice's as the instance page names it, the event that wrote it and the notice's kind
  (提醒领卡激活 · 领卡提醒). A step no label knows (an event a new version renamed) stays its key.
- The error: the common channel failures (``engine.outbox_channels.channel_failure``: the
  receiver refused the connection, did not answer in time, cannot be reached, answered an HTTP
  error) in a sentence that says what to check; the technical text, which names the receiver
  (``http://127.0.0.1:5398/hook``), is kept beside it. Any other error (a timer's refusal,
  already in both languages) has no sentence of its own.

The words are data, as in ``web.words``; the keys stay where a machine reads them (the API's
``step``, ``event`` and ``error``).
"""

from __future__ import annotations

from collections.abc import Mapping

from engine.definition import Label, ProcessDefinition
from engine.incidents import IncidentRow
from engine.outbox_channels import channel_failure
from web.words import WORDS

SEPARATOR = " · "

FAILURE_WORDS: dict[str, Label] = {
    "refused": Label(
        "通知接收方拒绝连接：它可能没有运行，或地址、端口有误。恢复后请重试。",
        "The notice receiver refused the connection: it may not be running, or the address or "
        "port is wrong. Retry once it is back.",
    ),
    "timeout": Label(
        "通知接收方未在限定时间内应答：它可能过载或网络缓慢。恢复后请重试。",
        "The notice receiver did not answer in time: it may be overloaded, or the network slow. "
        "Retry once it answers.",
    ),
    "unreachable": Label(
        "无法连接通知接收方：请检查网络和接收方地址。",
        "The notice receiver cannot be reached: check the network and the receiver's address.",
    ),
    "http_5xx": Label(
        "通知接收方内部出错（状态码 {status}）：请联系其维护方，恢复后重试。",
        "The notice receiver failed (HTTP {status}): ask its operator, and retry once it works.",
    ),
    "http_4xx": Label(
        "通知接收方拒收通知（状态码 {status}）：请检查接收方地址和凭据。",
        "The notice receiver refused the notice (HTTP {status}): check the receiver's address "
        "and credentials.",
    ),
}


def step_label(processes: Mapping[str, ProcessDefinition], incident: IncidentRow) -> Label:
    """The incident's step in words (see the module); its key when no label knows it."""
    definition = processes.get(incident.process or "")
    parts: list[Label] = []
    event = definition.events.get(incident.event or "") if definition is not None else None
    if event is not None:
        parts.append(event.label)
    if incident.kind == "notice":
        kind = WORDS.get(f"notice_kind_{incident.step}")
        if kind is not None:
            parts.append(kind)
    if not parts:
        return Label(incident.step, incident.step)
    return Label(
        SEPARATOR.join(part.zh for part in parts), SEPARATOR.join(part.en for part in parts)
    )


def error_label(incident: IncidentRow) -> Label | None:
    """What a notice incident's error means, in words; None for any other error."""
    if incident.kind != "notice":
        return None
    failure = channel_failure(incident.error)
    if failure is None:
        return None
    words = FAILURE_WORDS[failure.kind]
    status = failure.status or ""
    return Label(words.zh.format(status=status), words.en.format(status=status))


def in_both(label: Label) -> str:
    """A label as one line in both languages (the command line's way)."""
    return label.zh if label.zh == label.en else f"{label.zh} / {label.en}"
