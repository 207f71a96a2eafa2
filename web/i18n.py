"""The pages' language: Chinese by default, English on request; the words pages use beside labels.

``?lang=en|zh`` on any page switches the language; it is kept in the session and in a long-lived
cookie, so it survives logging out. Process words (states, events, tasks, form fields) come from the
definitions' own ``Label``s; this module holds only the words of the pages themselves.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, Response, g, request, session

from engine.definition import Label, ProcessDefinition
from workflows.identity import mask_id_number

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
COOKIE = "shebao_lang"
LOCAL_TZ = ZoneInfo("Asia/Shanghai")

WORDS: dict[str, Label] = {
    "app": Label("社保经办工作台", "Social security workbench"),
    "inbox": Label("任务箱", "Task inbox"),
    "processes": Label("流程监控", "Processes"),
    "overdue": Label("逾期工作", "Overdue work"),
    "incidents": Label("事件单", "Incidents"),
    "history_ttl": Label("办结后历史保留", "History kept after an instance ends for"),
    "version": Label("版本", "Version"),
    "deployed": Label("部署", "Deployed"),
    "latest": Label("最新（新实例）", "latest (new instances)"),
    "days": Label("天", "days"),
    "past_ttl": Label("已超期待清理", "past it, to be removed"),
    "history_kept": Label("历史永久保留", "History kept for ever"),
    "incidents_open": Label("待处理事件单", "Open incidents"),
    "incidents_closed": Label("已关闭事件单", "Closed incidents"),
    "incident_note": Label(
        "自动重试已用尽的步骤：排除原因后点“重试”，该步骤在调度器下一轮执行；“关闭”则不再执行。",
        "Steps whose automatic retries ran out: fix the cause, then Retry (the scheduler runs the"
        " step at its next sweep); Resolve closes it without running the step again.",
    ),
    "step": Label("步骤", "Step"),
    "error": Label("错误", "Error"),
    "attempts": Label("尝试次数", "Attempts"),
    "opened": Label("发生时间", "Opened"),
    "retry": Label("重试", "Retry"),
    "resolve": Label("关闭", "Resolve"),
    "incident_retry": Label("已放回重试", "Put back for a retry"),
    "incident_resolve": Label("已关闭（不再执行）", "Closed without running it"),
    "incident_kind_timer": Label("定时器", "Timer"),
    "incident_kind_notice": Label("通知", "Notice"),
    "login": Label("登录", "Log in"),
    "logout": Label("退出", "Log out"),
    "username": Label("用户名", "Username"),
    "password": Label("密码", "Password"),
    "bad_login": Label("用户名或密码错误", "Wrong username or password"),
    "too_many": Label(
        "登录失败次数过多，请 15 分钟后再试", "Too many failed logins; try again in 15 minutes"
    ),
    "login_needed": Label("请先登录", "Please log in"),
    "forbidden": Label(
        "无权访问：不在您的岗位或辖区范围内", "Not allowed: outside your group or scope"
    ),
    "not_found": Label("页面不存在", "Page not found"),
    "csrf": Label(
        "表单已过期或缺少校验令牌，请刷新后重试",
        "The form expired or lacks its token; reload and try again",
    ),
    "task": Label("任务", "Task"),
    "kind": Label("任务类型", "Task kind"),
    "all": Label("全部", "All"),
    "region": Label("地区", "Region"),
    "scope": Label("范围", "Scope"),
    "group": Label("岗位", "Group"),
    "person": Label("证件号码", "ID number"),
    "due": Label("办理期限", "Due"),
    "created": Label("创建时间", "Created"),
    "assignee": Label("认领人", "Claimed by"),
    "unclaimed": Label("未认领", "Unclaimed"),
    "overdue_only": Label("仅逾期", "Overdue only"),
    "due_within": Label("天内到期", "due within days"),
    "mine": Label("我认领的", "Claimed by me"),
    "filter": Label("筛选", "Filter"),
    "reset": Label("清除", "Reset"),
    "next": Label("下一页", "Next page"),
    "first": Label("第一页", "First page"),
    "no_tasks": Label("没有符合条件的任务", "No tasks match"),
    "claim": Label("认领", "Claim"),
    "release": Label("退回", "Release"),
    "complete": Label("办结", "Complete"),
    "open": Label("打开", "Open"),
    "claimed": Label("已认领任务", "Task claimed"),
    "released": Label("已退回任务", "Task released"),
    "completed": Label("任务已办结", "Task completed"),
    "already": Label("该任务已由他人处理", "This task was already handled by someone else"),
    "claim_first": Label("请先认领该任务", "Claim the task first"),
    "read_only": Label("您可查看但不能办理此任务", "You may read this task but not act on it"),
    "instance": Label("流程实例", "Instance"),
    "process": Label("流程", "Process"),
    "state": Label("状态", "State"),
    "history": Label("办理记录", "History"),
    "event": Label("事件", "Event"),
    "from": Label("从", "From"),
    "to": Label("到", "To"),
    "actor": Label("操作人", "Actor"),
    "when": Label("时间", "When"),
    "open_tasks": Label("待办任务", "Open tasks"),
    "timers": Label("待触发定时器", "Pending timers"),
    "diagram": Label("流程图", "Diagram"),
    "instances": Label("实例数", "Instances"),
    "count": Label("数量", "Count"),
    "overdue_tasks": Label("逾期任务", "Overdue tasks"),
    "missed_timers": Label("已到期未触发的定时器", "Timers due but not fired"),
    "none": Label("无", "None"),
    "back": Label("返回", "Back"),
    "outcome": Label("办理结果", "Outcome"),
    "business_key": Label("业务键", "Business key"),
    "diagram_missing": Label(
        "流程图暂不可用（未安装 Graphviz）", "Diagram unavailable (Graphviz missing)"
    ),
    "signed_in_as": Label("当前用户", "Signed in as"),
    "bank": Label("银行", "Bank"),
    "legend": Label(
        "颜色表示负载：白=空闲，绿=低，黄=中，橙=高，红=最高",
        "Colour shows load: white idle, green low, yellow medium, orange high, red peak",
    ),
    "start": Label("开始", "Start"),
    "facts": Label("办理依据", "Facts of the decision"),
    "yes": Label("是", "Yes"),
    "no": Label("否", "No"),
    "click_state": Label("点击状态查看其实例", "Click a state to list its instances"),
    "service_date_simulated": Label(
        "业务日期 {date}（模拟时钟）", "Service date {date} (simulated clock)"
    ),
    "service_time": Label("业务时间", "Service time"),
    "notices": Label("通知", "Notices"),
    "notice_text": Label("通知内容", "Text"),
    "recipient": Label("接收人", "Recipient"),
    "delivery": Label("投递状态", "Delivery"),
    "notice_attempts": Label("尝试次数", "Attempts"),
    "notice_error": Label("最近错误", "Last error"),
    "delivered_at": Label("投递时间", "Delivered"),
    "next_attempt": Label("下次尝试", "Next attempt"),
    "notice_pending": Label("待投递", "Pending"),
    "notice_delivered": Label("已投递", "Delivered"),
    "notice_failed": Label("投递失败", "Failed"),
    "scheduler_running": Label(
        "调度器运行中（{age}前心跳）", "Scheduler running (last heartbeat {age} ago)"
    ),
    "scheduler_stale": Label(
        "调度器停止（最后心跳于 {age}前）", "Scheduler not running (last heartbeat {age} ago)"
    ),
    "scheduler_stopped": Label("调度器停止", "Scheduler not running"),
    "totp_code": Label("动态验证码", "Authentication code"),
    "totp_prompt": Label(
        "请输入身份验证器应用中显示的 6 位验证码",
        "Enter the 6-digit code your authenticator app shows",
    ),
    "bad_code": Label("验证码错误", "Wrong code"),
    "login_step_expired": Label(
        "登录步骤已超时，请重新输入用户名和密码",
        "The login step timed out; enter your username and password again",
    ),
    "totp_setup_needed": Label(
        "业务主管账号须先启用两步验证：请管理员运行 shebao users totp 用户名，再将密钥添加到身份验证器应用",
        "A supervisor account needs a second factor first: ask an administrator to run "
        "shebao users totp NAME, then add the secret to an authenticator app",
    ),
    "no_scope": Label(
        "该账号未设置办理范围，无法登录：请管理员运行 shebao users scope 用户名 范围",
        "This account has no scope and cannot log in: ask an administrator to run "
        "shebao users scope NAME SCOPE",
    ),
    "session_expired": Label(
        "会话已结束或超时，请重新登录", "Your session ended or timed out; please log in again"
    ),
    "sessions": Label("登录会话", "Sessions"),
    "sessions_note": Label(
        "您当前有效的登录会话；结束一个会话即让该浏览器退出登录",
        "Your live sessions; ending one logs that browser out",
    ),
    "session_current": Label("当前会话", "This session"),
    "session_created": Label("登录时间", "Logged in"),
    "session_last_seen": Label("最近活动", "Last active"),
    "session_browser": Label("浏览器", "Browser"),
    "address": Label("地址", "Address"),
    "end_session": Label("结束", "End"),
    "end_other_sessions": Label("结束其他所有会话", "End every other session"),
    "session_ended": Label("会话已结束", "Session ended"),
    "other_sessions_ended": Label("已结束 {count} 个其他会话", "Ended {count} other sessions"),
    "change_password": Label("修改密码", "Change password"),
    "current_password": Label("当前密码", "Current password"),
    "new_password": Label("新密码", "New password"),
    "repeat_password": Label("再次输入新密码", "New password again"),
    "password_rules": Label(
        "新密码至少 {n} 个字符，且不能是常见密码或用户名",
        "At least {n} characters, not a common password nor the username",
    ),
    "wrong_current_password": Label("当前密码错误", "Wrong current password"),
    "passwords_differ": Label("两次输入的新密码不一致", "The two new passwords differ"),
    "password_changed": Label(
        "密码已修改，其他所有会话均已退出", "Password changed; every other session was logged out"
    ),
    "security_events": Label("安全事件", "Security events"),
    "event_kind": Label("类型", "Kind"),
    "event_detail": Label("详情", "Detail"),
    "search": Label("查询", "Search"),
    "search_placeholder": Label(
        "身份证号、社保卡号、姓名或业务键", "ID number, card number, name or business key"
    ),
    "search_results": Label("查询结果", "Search results"),
    "search_hint": Label(
        "在页面顶部的查询框输入身份证号码、社保卡号、姓名（开头几个字）或业务键。",
        "Type an ID number, a card number, the start of a name or a business key into the"
        " search box at the top of any page.",
    ),
    "search_kind_id_number": Label("按身份证号码", "by ID number"),
    "search_kind_card_number": Label("按社保卡号", "by card number"),
    "search_kind_business_key": Label("按业务键", "by business key"),
    "search_kind_name": Label("按姓名开头", "by the start of a name"),
    "search_empty": Label("请输入要查询的内容", "Type something to search for"),
    "search_too_long": Label(
        "查询内容过长（最多 64 个字符）", "The query is too long (64 characters at most)"
    ),
    "search_bad_characters": Label(
        "查询内容含有不可打印的字符", "The query has characters that cannot be printed"
    ),
    "no_results": Label("没有找到您有权查看的记录", "Nothing found that you may see"),
    "more_results": Label(
        "匹配的记录较多，仅显示前 {n} 条；请输入更完整的内容",
        "More records match; the first {n} are shown: type more of it",
    ),
    "people": Label("参保人员", "People"),
    "cards": Label("社会保障卡", "Cards"),
    "enrollments": Label("年度参保", "Insurance years"),
    "tasks": Label("待办任务", "Open tasks"),
    "name": Label("姓名", "Name"),
    "card_number": Label("社保卡号", "Card number"),
    "policy_year": Label("年度", "Year"),
    "amount_due": Label("应缴金额", "Amount due"),
    "amount_paid": Label("已缴金额", "Amount paid"),
    "paid_at": Label("缴费时间", "Paid"),
    "payer": Label("缴费人", "Payer"),
    "channel": Label("渠道", "Channel"),
    "yuan": Label("元", "yuan"),
    "not_payable": Label("不可缴费", "Cannot be paid"),
    "person_page": Label("参保人员档案", "Person"),
    "open_person": Label("查看人员档案", "Open the person's page"),
    "record": Label("记录", "Record"),
    "card_reviews": Label("一人多卡核查", "Extra cards reviews"),
    "history_of": Label("{what}的办理记录", "History of {what}"),
}

GROUPS: dict[str, Label] = {
    "social_security_clerk": Label("社保经办员", "Social security clerk"),
    "bank_teller": Label("银行柜员", "Bank teller"),
    "medical_insurance_clerk": Label("医保经办员", "Medical insurance clerk"),
    "supervisor": Label("业务主管", "Supervisor"),
}


def regions() -> dict[str, Label]:
    """Every region the service serves, with its name (from the policy files)."""
    from web.extensions import domain_of

    return {r.key: Label(r.name.zh, r.name.en) for r in domain_of().regions}


def current_lang() -> str:
    """The language of this request: ``?lang=``, else the session, else the cookie, else Chinese."""
    if "lang" in g:
        return str(g.lang)
    return DEFAULT_LANG


def t(key: str) -> str:
    """A page word in the current language (the key itself when unknown)."""
    label = WORDS.get(key)
    return label.get(current_lang()) if label else key


def group_label(group: str) -> str:
    label = GROUPS.get(group)
    return label.get(current_lang()) if label else group


def scope_label(scope: str | None) -> str:
    """A scope (a bank key or a region) in words."""
    from web.extensions import domain_of

    if scope is None:
        return WORDS["all"].get(current_lang())
    known = domain_of().regions
    region = known.find(scope)
    if region is not None:
        return region.name.zh if current_lang() == "zh" else region.name.en
    bank = known.bank_label(scope)
    if bank is not None:
        return bank.zh if current_lang() == "zh" else bank.en
    return scope


def fact_value(value: Any) -> str:
    """A task fact in words: yes/no, lists joined, times local, ``-`` for none."""
    if value is None or value == "" or value == []:
        return "-"
    if isinstance(value, bool):
        return t("yes") if value else t("no")
    if isinstance(value, list | tuple):
        return (
            "、".join(str(v) for v in value)
            if current_lang() == "zh"
            else ", ".join(map(str, value))
        )
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and "T" in value:
        try:
            return local_time(datetime.fromisoformat(value))
        except ValueError:
            return value
    return str(value)


def local_time(value: datetime | None, with_time: bool = True) -> str:
    """An aware time shown in China Standard Time (``-`` for none)."""
    if value is None:
        return "-"
    local = value.astimezone(LOCAL_TZ)
    return local.strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")


def message(zh: str, en: str) -> str:
    """Pick one of two messages (an error's ``message_zh``/``message_en``) by language."""
    return en if current_lang() == "en" else zh


def _pick_language() -> None:
    asked = request.args.get("lang")
    if asked in LANGS:
        session["lang"] = asked
        g.lang = asked
        g.lang_changed = True
        return
    remembered = session.get("lang") or request.cookies.get(COOKIE)
    g.lang = remembered if remembered in LANGS else DEFAULT_LANG


def _remember_language(response: Response) -> Response:
    if g.get("lang_changed"):
        response.set_cookie(COOKIE, g.lang, max_age=3600 * 24 * 365, samesite="Lax", httponly=True)
    return response


def _template_globals() -> dict[str, Any]:
    return {
        "t": t,
        "lang": current_lang(),
        "group_label": group_label,
        "scope_label": scope_label,
        "local_time": local_time,
        "state_label": state_label,
        "event_label": event_label,
        "task_label": task_label,
        "mask_id": mask_id_number,
        "fact_value": fact_value,
    }


def init_app(app: Flask) -> None:
    """Pick the language before every request and give templates the helpers."""
    app.before_request(_pick_language)
    app.after_request(_remember_language)
    app.context_processor(_template_globals)


def state_label(definition: ProcessDefinition, state: str | None) -> str:
    """A state of ``definition`` in words (the name itself when the definition lacks it)."""
    if state is None:
        return "-"
    spec = definition.states.get(state)
    return spec.label.get(current_lang()) if spec else state


def event_label(definition: ProcessDefinition, event: str) -> str:
    if event == "start":
        return WORDS["start"].get(current_lang())
    spec = definition.events.get(event)
    return spec.label.get(current_lang()) if spec else event


def task_label(definition: ProcessDefinition, state: str, name: str) -> str:
    spec = definition.states.get(state)
    if spec is None or spec.task is None:
        return name
    return spec.task.label.get(current_lang())
