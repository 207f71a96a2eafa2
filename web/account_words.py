"""The words of the staff's own account pages and of the security log, in Chinese and English:
logging in (password, second factor, why a login is refused), the sessions page, changing the
password, and the security events page (its columns and each kind of event,
``security_kind_<kind>``). A data module, part of ``web.words.WORDS``, split from it by page; keys
are unique across the parts (``tests/web/test_translations.py``)."""

from __future__ import annotations

from engine.definition import Label

ACCOUNT_WORDS: dict[str, Label] = {
    "login": Label("登录", "Log in"),
    "logout": Label("退出", "Log out"),
    "username": Label("用户名", "Username"),
    "password": Label("密码", "Password"),
    "bad_login": Label("用户名或密码错误", "Wrong username or password"),
    "too_many": Label(
        "登录失败次数过多，请 15 分钟后再试", "Too many failed logins; try again in 15 minutes"
    ),
    "login_needed": Label("请先登录", "Please log in"),
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
    "session_idle_warning": Label(
        "为保护个人信息，无操作的登录将在 {left} 后结束，未提交的内容会丢失",
        "To protect personal data, an idle session ends in {left}; anything not sent is lost",
    ),
    "session_end_warning": Label(
        "本次登录将在 {left} 后到期（每次登录最长 {hours} 小时），请先提交正在填写的内容",
        "This session expires in {left} (a login lasts at most {hours} hours); "
        "send what you are filling in first",
    ),
    "session_ended_keep_text": Label(
        "登录已结束。请在新标签页中重新登录，再回到本页点击“我已重新登录”：已填写的内容仍在本页",
        "Your session has ended. Log in again in a new tab, then come back and press "
        "\u201cI have logged in again\u201d: what you typed is still on this page",
    ),
    "stay_signed_in": Label("继续办理", "Stay signed in"),
    "log_in_new_tab": Label("在新标签页中登录", "Log in in a new tab"),
    "logged_in_again": Label("我已重新登录", "I have logged in again"),
    "still_logged_out": Label(
        "仍未登录，请先在新标签页中登录", "Still logged out: log in in a new tab first"
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
    "security_kind_login_succeeded": Label("登录成功", "Logged in"),
    "security_kind_login_failed": Label("登录失败", "Login failed"),
    "security_kind_login_locked_out": Label("登录被锁定", "Login locked out"),
    "security_kind_logout": Label("退出登录", "Logged out"),
    "security_kind_session_revoked": Label("会话被结束", "Session ended"),
    "security_kind_password_changed": Label("修改密码", "Password changed"),
    "security_kind_totp_enrolled": Label("启用两步验证", "Second factor enrolled"),
    "security_kind_totp_failed": Label("动态验证码错误", "Wrong authentication code"),
    "security_kind_account_disabled": Label("停用工作人员账号", "Staff account disabled"),
    "security_kind_account_enabled": Label("重新启用工作人员账号", "Staff account enabled again"),
    "security_kind_permission_denied": Label("越权访问被拒绝", "Permission denied"),
    "security_kind_token_created": Label("创建接口令牌", "API token created"),
    "security_kind_token_revoked": Label("吊销接口令牌", "API token revoked"),
    "security_kind_token_used": Label("使用接口令牌", "API token used"),
    "security_kind_token_refused": Label("接口令牌被拒绝", "API token refused"),
    "security_kind_token_missing": Label("未带接口令牌", "API call without a token"),
    "security_kind_import": Label("批量导入", "Batch import"),
    "security_kind_staff_search": Label("工作人员查询", "Staff search"),
    "security_kind_person_viewed": Label("查看人员档案", "Person viewed"),
    "security_kind_record_viewed": Label("查看业务记录", "Record viewed"),
    "security_kind_supervisor_intervention": Label("主管干预流程实例", "Supervisor intervention"),
}
