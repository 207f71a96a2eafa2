"""The rules for new staff passwords, and strong random ones.

A new password has at least ``MIN_LENGTH`` characters and is not one of the most common passwords
(``web/data/common_passwords.txt``, compared in lowercase) nor the username itself. The rules apply
when a password is chosen (``shebao users create|password``, the account page); logging in with an
older password still works.
"""

from __future__ import annotations

import secrets
from functools import cache
from importlib import resources

from engine.definition import Label

MIN_LENGTH = 12
COMMON_LIST = "common_passwords.txt"


class WeakPassword(ValueError):
    """A new password breaks the rules; ``message`` says which, in Chinese and English."""

    def __init__(self, reason: str, message: Label) -> None:
        super().__init__(message.en)
        self.reason = reason
        self.message = message


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords, lowercased (read once).

    Raises:
        RuntimeError: the list is missing (an install without ``web/data``): no password is
            accepted then, rather than every common one.
    """
    try:
        text = resources.files("web").joinpath("data", COMMON_LIST).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RuntimeError(
            f"web/data/{COMMON_LIST} is missing from this install (package data of 'web')"
        ) from None
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


def check_new_password(password: str, username: str | None = None) -> None:
    """Refuse a password that is too short, common, or the username.

    Raises:
        WeakPassword: which rule it breaks.
    """
    if len(password) < MIN_LENGTH:
        raise WeakPassword(
            "too_short",
            Label(
                f"密码至少需要 {MIN_LENGTH} 个字符",
                f"A password needs at least {MIN_LENGTH} characters",
            ),
        )
    lowered = password.lower()
    if lowered in common_passwords():
        raise WeakPassword(
            "common", Label("该密码过于常见，请换一个", "This password is too common; pick another")
        )
    if username and lowered == username.strip().lower():
        raise WeakPassword(
            "username", Label("密码不能与用户名相同", "The password cannot be the username")
        )


def random_password() -> str:
    """A strong random password (16 URL-safe characters, about 96 bits)."""
    while True:
        chosen = secrets.token_urlsafe(12)
        if chosen.lower() not in common_passwords():
            return chosen
