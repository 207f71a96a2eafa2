"""Incidents in words, in Chinese and English, for the supervisor page, ``shebao incidents list``
and the admin API: the step that failed, and what a notice's delivery error means.

- The step: a timer's event by the definition's label (``lapse_loss_report``: 临时挂失到期),
  a notice's as the instance page names it, the event that wrote it and the notice's kind
  (提醒领卡激活 · 领卡提醒). A step no label knows (an event a new version renamed) stays its key.
- The error: the common channel failures (``engine.outbox_channels.channel_failure``: the
  receiver refused the connection, did not answer in time, cannot be reached, answered an HTTP
  error) and the common timer failures (``engine.timer_failures.timer_failure``: the event no
  longer leaves the timer's state, a guard refused it, the instance's state does not allow it,
  the instance changed meanwhile, the event's data was refused, the policy cannot be found, a
  database error; a refusal's own reason in the page's language) in a sentence that says what to
  check; the technical text, which names the receiver (``http://127.0.0.1:5398/hook``) or the
  exception, is kept beside it. Any other error has no sentence of its own.

The words are data, as in ``web.words``; the keys stay where a machine reads them (the API's
``step``, ``event`` and ``error``).
"""

from __future__ import annotations

from collections.abc import Mapping

from engine import timer_failures as tf
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


TIMER_WORDS: dict[str, Label] = {
    tf.NOT_LEAVING: Label(
        "此流程版本中该事件已不能从定时器所属的状态发出（流程定义可能已修改，或实例已迁移）："
        "重试也不会成功，请核对该实例后关闭。",
        "The timer's event no longer leaves the timer's state in this process version (the "
        "definition may have changed, or the instance was migrated): a retry cannot succeed; "
        "check the instance, then resolve.",
    ),
    tf.REFUSED: Label(
        "条件不满足，事件未执行：{reason}。排除原因后重试，或关闭。",
        "A condition refused the event: {reason}. Retry once the cause is gone, or resolve.",
    ),
    tf.NOT_ALLOWED: Label(
        "实例当前的状态不允许该事件（实例可能已被其他操作推进）：{reason}。请核对该实例后关闭。",
        "The instance's state does not allow the event now (something else may have moved it "
        "on): {reason}. Check the instance, then resolve.",
    ),
    tf.CHANGED: Label(
        "执行时该实例正被其他操作修改：请重试。",
        "Someone else changed the instance at the same moment: retry.",
    ),
    tf.INVALID_DATA: Label(
        "事件的数据不符合要求：{reason}。",
        "The event's data was refused: {reason}.",
    ),
    tf.POLICY_MISSING: Label(
        "找不到该实例适用的参保政策（政策文件可能缺失、有误或未加载）："
        "请检查政策文件并重新加载，然后重试。",
        "The instance's insurance policy cannot be found (its policy file may be missing, "
        "broken or not loaded): check the policy files and reload them, then retry.",
    ),
    tf.DATABASE: Label(
        "数据库出错（连接中断、锁等待超时等）：数据库恢复后请重试。",
        "A database error (a lost connection, a lock that timed out, ...): retry once the "
        "database works again.",
    ),
}
"""A timer failure's cause in words (``engine.timer_failures.CAUSES``); ``{reason}``: the
refusal's own reason, in the same language."""


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
    """What a notice's or a timer's error means, in words; None for any other error."""
    if incident.kind == "timer":
        return _timer_words(incident.error)
    if incident.kind != "notice":
        return None
    failure = channel_failure(incident.error)
    if failure is None:
        return None
    words = FAILURE_WORDS[failure.kind]
    status = failure.status or ""
    return Label(words.zh.format(status=status), words.en.format(status=status))


def _timer_words(error: str) -> Label | None:
    found = tf.timer_failure(error)
    if found is None:
        return None
    words = TIMER_WORDS[found.cause]
    return Label(
        words.zh.format(reason=found.reason_zh.rstrip("。")),
        words.en.format(reason=found.reason_en.rstrip(".")),
    )


def in_both(label: Label) -> str:
    """A label as one line in both languages (the command line's way)."""
    return label.zh if label.zh == label.en else f"{label.zh} / {label.en}"
