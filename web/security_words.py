"""The words of the security event page's details (``web.security_log`` rows): each detail key by
its label and each code a detail may hold (a reason, a lockout's cause, a search's kind of key) by
its words, in Chinese and English. ``detail_parts`` turns an event's ``detail`` into what the
page shows; a value that is data (an id, a path, a token's name, a supervisor's own words) is
marked as such and shown as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.definition import Label

DETAIL_KEYS: dict[str, Label] = {
    "reason": Label("原因", "Reason"),
    "known_user": Label("用户存在", "Known user"),
    "by": Label("锁定依据", "Locked by"),
    "retry_after": Label("可重试等待（秒）", "Retry after (seconds)"),
    "step": Label("登录步骤", "Login step"),
    "session_id": Label("会话", "Session"),
    "mfa": Label("两步验证", "Second factor"),
    "token": Label("令牌", "Token"),
    "prefix": Label("令牌前缀", "Token prefix"),
    "scopes": Label("权限范围", "Scopes"),
    "expires_in_days": Label("有效天数", "Valid for (days)"),
    "first_use": Label("首次使用", "First use of the token"),
    "method": Label("请求方法", "Method"),
    "endpoint": Label("接口", "Endpoint"),
    "path": Label("路径", "Path"),
    "record": Label("记录类型", "Record kind"),
    "record_id": Label("记录编号", "Record id"),
    "what": Label("导入内容", "Imported"),
    "policy": Label("年度政策", "Policy year"),
    "dry_run": Label("试运行（未写入）", "Dry run (nothing written)"),
    "rows": Label("行数", "Rows"),
    "applied": Label("已导入", "Applied"),
    "unchanged": Label("未变化", "Unchanged"),
    "rejected": Label("被拒绝", "Rejected"),
    "reviews_opened": Label("发起的复核", "Reviews opened"),
    "user": Label("用户", "User"),
    "sessions_ended": Label("结束的会话", "Sessions ended"),
    "replaced": Label("替换原有", "Replaced the old one"),
    "action": Label("操作", "Action"),
    "instance_id": Label("实例", "Instance"),
    "process": Label("流程", "Process"),
    "from_state": Label("原状态", "From"),
    "to_state": Label("新状态", "To"),
    "key": Label("查询依据", "Searched by"),
    "people": Label("人员", "People"),
    "cards": Label("社保卡", "Cards"),
    "enrollments": Label("参保年度", "Policy years"),
    "tasks": Label("任务", "Tasks"),
}
"""Every key ``security_log.record`` is given somewhere, by its label."""

DETAIL_CODES: dict[str, dict[str, Label]] = {
    "reason": {
        "bad_credentials": Label("用户名或密码错误", "Wrong user name or password"),
        "totp_setup_needed": Label("主管未设置两步验证", "Supervisor without a second factor"),
        "no_scope": Label("账号未设置负责范围", "Account without a scope"),
        "login": Label("登录", "Login"),
        "password_changed": Label("修改了密码", "Password changed"),
        "totp_replaced": Label("两步验证已更换", "Second factor replaced"),
        "account_disabled": Label("账号已停用", "Account disabled"),
        "name_reused": Label("名称已用于新令牌", "Its name was given to a new token"),
        "unknown": Label("令牌无效", "Unknown token"),
        "expired": Label("令牌已过期", "Token expired"),
        "revoked": Label("令牌已吊销", "Token revoked"),
        "no_header": Label("请求未带 Authorization 头", "No Authorization header"),
        "not_bearer": Label(
            "Authorization 头不是 Bearer 令牌", "Authorization is not a bearer token"
        ),
        "no_token": Label("Bearer 后没有令牌", "Bearer without a token"),
    },
    "by": {
        "account": Label("该账号失败次数过多", "Too many failures for the account"),
        "address": Label("该地址失败次数过多", "Too many failures from the address"),
    },
    "step": {
        "password": Label("密码", "Password"),
        "totp": Label("动态验证码", "Authentication code"),
    },
    "what": {
        "people": Label("人员及社保卡", "People and cards"),
        "deductions": Label("税务扣费结果", "Deduction results"),
    },
    "action": {
        "move": Label("移动", "Move"),
        "cancel": Label("取消", "Cancel"),
    },
    "record": {
        "card": Label("社保卡", "Card"),
        "task": Label("任务", "Task"),
        "enrollment": Label("参保年度", "Policy year"),
        "registration": Label("参保档案", "Registration"),
    },
    "key": {
        "id_number": Label("身份证号", "ID number"),
        "business_key": Label("业务键", "Business key"),
        "card_number": Label("社保卡号", "Card number"),
        "name": Label("姓名", "Name"),
    },
}
"""The codes a key's value may be, by their words; a value not listed is data, shown as it is
(a supervisor's reason for an intervention is their own words)."""

ENDPOINT_AREAS: dict[str, Label] = {
    "inbox": Label("任务箱", "Task inbox"),
    "inbox_team": Label("任务箱·团队任务", "Task inbox, team work"),
    "processes": Label("流程监控页面", "Process pages"),
    "instance_actions": Label("主管操作（终止、移动实例）", "Supervisor actions on an instance"),
    "search": Label("查询与个人档案", "Search and person pages"),
    "account": Label("账号与安全", "Account and security"),
    "auth": Label("登录", "Login"),
    "api": Label("JSON 接口", "JSON API"),
    "health": Label("健康检查", "Health check"),
}
"""An ``endpoint`` detail (Flask's ``blueprint.view``, e.g. ``inbox_team.bulk_view``) by the
part of the service it belongs to; the ``path`` beside it says which page."""


def endpoint_words(endpoint: str, lang: str) -> str | None:
    """The part of the service ``endpoint`` belongs to, in words (None when not known)."""
    area = ENDPOINT_AREAS.get(endpoint.split(".", 1)[0]) if "." in endpoint else None
    return area.get(lang) if area else None


@dataclass(frozen=True)
class DetailPart:
    """One ``label: value`` of an event's detail; ``data``: the value is shown as it is."""

    label: str
    value: str
    data: bool


def detail_parts(
    detail: Mapping[str, Any] | None,
    lang: str,
    *,
    yes_no: tuple[str, str],
    process_label: Callable[[str], str | None] = lambda _: None,
    state_label: Callable[[str, str], str | None] = lambda _p, _s: None,
) -> list[DetailPart]:
    """An event's ``detail`` in ``lang``, keys in the order ``DETAIL_KEYS`` lists them (unknown
    keys last, by name). ``process_label`` and ``state_label`` name a process and a state of it
    (None when unknown)."""
    if not detail:
        return []
    order = list(DETAIL_KEYS)
    keys = sorted(detail, key=lambda k: (order.index(k) if k in order else len(order), k))
    parts = []
    for key in keys:
        value = detail[key]
        label = DETAIL_KEYS[key].get(lang) if key in DETAIL_KEYS else key
        code = DETAIL_CODES.get(key, {}).get(str(value))
        words: str | None = None
        if isinstance(value, bool):
            words = yes_no[0] if value else yes_no[1]
        elif code is not None:
            words = code.get(lang)
        elif key == "process":
            words = process_label(str(value))
        elif key == "endpoint":
            words = endpoint_words(str(value), lang)
        elif key in ("from_state", "to_state") and detail.get("process"):
            words = state_label(str(detail["process"]), str(value))
        if words is not None:
            parts.append(DetailPart(label, words, data=False))
            continue
        shown = ", ".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
        parts.append(DetailPart(label, shown, data=True))
    return parts
