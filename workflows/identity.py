"""Resident ID numbers (居民身份证号码, GB 11643-1999): validate, read, mask and build them.

This module owns everything the service knows about the 18-character number: a 6-digit address code,
the birth date as YYYYMMDD, a 3-digit sequence (odd for men) and an ISO 7064 MOD 11-2 check
character. The social insurance number is the ID number, so this is also how people are keyed.
Nothing here touches storage or a clock: whoever asks whether a birth date has come passes the
service clock's date (``today``), never the machine's.
"""

from __future__ import annotations

import re
from datetime import date
from operator import mul

__all__ = [
    "InvalidIdNumber",
    "age_on",
    "birth_date",
    "check_character",
    "is_valid_id_number",
    "make_id_number",
    "mask_id_number",
    "mask_id_numbers_in",
    "sex",
    "validate_id_number",
]

LENGTH = 18
ID_LIKE = re.compile(r"(?<![0-9０-９])[0-9０-９]{17}[0-9０-９XxＸｘ](?![0-9０-９])")
"""Something that looks like a resident ID number in free text: the word boundaries are those of
a run of digits, so one glued to letters, underscores or Chinese text (``身份证440604199005170211号``)
is found too, and 19 digits in a row are not an ID number. Full-width digits count (a comment typed
with a Chinese input method in full-width mode: ``４４０６０４...``), alone or mixed with ASCII ones."""
EARLIEST_BIRTH_DATE = date(1800, 1, 1)
"""Earliest accepted birth date: 440524188001010014 (born 1880) is a published valid example."""

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARACTERS = "10X98765432"  # indexed by (weighted sum mod 11)
_FORMAT = re.compile(r"^[0-9]{17}[0-9X]$")
_FULL_WIDTH = re.compile(r"[０-９Ｘｘ]")
"""Full-width digits and X, as a Chinese input method in full-width mode types them: refused (the
number is ASCII), in words that say to type half-width ones."""
PROVINCE_CODES = frozenset(
    ["11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37"]
    + ["41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64"]
    + ["65", "71", "81", "82"]
)
"""The province-level codes an address code can start with (GB/T 2260: 11-15, 21-23, 31-37,
41-46, 50-54, 61-65, 71 Taiwan, 81 Hong Kong, 82 Macao). The counties below them are not checked:
codes are added and retired every year, and a number keeps the code it was issued with."""


class InvalidIdNumber(ValueError):
    """An ID number that fails one of the GB 11643 checks.

    Attributes:
        code: the stable error code the web layer maps to a 422 answer.
        check: which check failed: ``length``, ``format``, ``address_code``, ``birth_date`` or
            ``check_digit``.
        message_zh: the message in Chinese.
        message_en: the message in English.
    """

    code = "invalid_id_number"

    def __init__(self, check: str, message_zh: str, message_en: str) -> None:
        super().__init__(f"{message_zh} / {message_en}")
        self.check = check
        self.message_zh = message_zh
        self.message_en = message_en


def check_character(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character for the first 17 digits.

    Args:
        first17: exactly 17 decimal digits.

    Returns:
        One of ``0``-``9`` or ``X``.

    Raises:
        ValueError: ``first17`` is not 17 decimal digits.
    """
    if len(first17) != LENGTH - 1 or not first17.isascii() or not first17.isdigit():
        raise ValueError(f"expected 17 digits, got {first17!r}")
    total = sum(map(mul, map(int, first17), _WEIGHTS))
    return _CHECK_CHARACTERS[total % 11]


def validate_id_number(value: str, *, today: date) -> str:
    """Check a resident ID number and return it normalised.

    Surrounding whitespace is stripped and a trailing lower-case ``x`` is upper-cased.

    Args:
        value: the number as typed.
        today: the latest acceptable birth date: the service clock's date (``RegionInfo.today``,
            ``workflows.service_date.service_today``), never the machine's: a simulated clock
            may be years behind it, so no default is taken.

    Returns:
        The normalised 18-character number.

    Raises:
        InvalidIdNumber: with ``check`` naming the first check that failed.
    """
    text = _well_formed(value)
    born = date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    if born > today:
        raise InvalidIdNumber(
            "birth_date",
            f"身份证号码中的出生日期晚于今天（{today}）",
            f"the birth date in the ID number is in the future (after {today})",
        )
    expected = check_character(text[:17])
    if text[17] != expected:
        raise InvalidIdNumber(
            "check_digit",
            f"身份证号码校验位错误，应为 {expected}",
            f"wrong check character, expected {expected}",
        )
    return text


def _well_formed(value: str) -> str:
    """The number normalised, its form, address code and birth date (a real date, not before
    ``EARLIEST_BIRTH_DATE``) checked; whether that date has come and the check character are
    the caller's (``validate_id_number``)."""
    if not isinstance(value, str):
        raise InvalidIdNumber("format", "身份证号码必须是文本", "the ID number must be text")
    text = value.strip()
    if _FULL_WIDTH.search(text):
        raise InvalidIdNumber(
            "format",
            "身份证号码应为 17 位数字加 1 位数字或 X，请使用半角数字（0-9），不要使用全角数字",
            "an ID number is 17 digits followed by a digit or X: use half-width digits (0-9), "
            "not full-width ones",
        )
    if len(text) != LENGTH:
        raise InvalidIdNumber(
            "length",
            f"身份证号码应为 18 位，实际为 {len(text)} 位",
            f"an ID number has 18 characters, this one has {len(text)}",
        )
    text = text[:-1] + text[-1].upper()
    if not text.isascii() or not _FORMAT.match(text):
        raise InvalidIdNumber(
            "format",
            "身份证号码应为 17 位数字加 1 位数字或 X",
            "an ID number is 17 digits followed by a digit or X",
        )
    if text[:2] not in PROVINCE_CODES:
        raise InvalidIdNumber(
            "address_code",
            "身份证号码前 6 位地址码无效：前 2 位不是省级行政区划代码",
            "the address code (first 6 digits) of the ID number is not a region code: "
            "its first 2 digits name no province",
        )
    born = _parse_birth_date(text[6:14])
    if born is None or born < EARLIEST_BIRTH_DATE:
        raise InvalidIdNumber(
            "birth_date",
            "身份证号码中的出生日期无效",
            "the birth date in the ID number is not a valid date",
        )
    return text


def is_valid_id_number(value: object, *, today: date | None) -> bool:
    """Whether ``value`` is a valid resident ID number (see ``validate_id_number``) born by
    ``today``; None: whenever born (finding numbers in a text, where a date does not matter)."""
    if not isinstance(value, str):
        return False
    try:
        validate_id_number(value, today=date.max if today is None else today)
    except InvalidIdNumber:
        return False
    return True


def birth_date(id_number: str) -> date:
    """The birth date encoded in a valid ID number (one on file: whether it has come is the
    registration's check).

    Raises:
        InvalidIdNumber: the number is not valid.
    """
    text = validate_id_number(id_number, today=date.max)
    return date(int(text[6:10]), int(text[10:12]), int(text[12:14]))


def age_on(id_number: str, day: date) -> int:
    """The age in full years on ``day`` (someone born on 29 February turns a year older on 1 March).

    Raises:
        InvalidIdNumber: the number is not valid.
    """
    born = birth_date(id_number)
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def sex(id_number: str) -> str:
    """``"male"`` when the 17th digit (the last of the sequence) is odd, else ``"female"``.

    Raises:
        InvalidIdNumber: the number is not valid.
    """
    text = validate_id_number(id_number, today=date.max)
    return "male" if int(text[16]) % 2 else "female"


def mask_id_number(value: str) -> str:
    """Mask a number for display and logs: ``110105********002X``. Never raises.

    An 18-character value shows its first 6 and last 4 characters; any other value shows its first
    2 and last 2 characters, or nothing when it has 4 characters or fewer.
    """
    text = value.strip() if isinstance(value, str) else str(value)
    if len(text) == LENGTH:
        return text[:6] + "*" * 8 + text[-4:-1] + text[-1].upper()
    if len(text) <= 4:
        return "*" * len(text)
    return text[:2] + "*" * (len(text) - 4) + text[-2:]


def mask_id_numbers_in(text: str) -> str:
    """``text`` with everything that looks like a resident ID number (``ID_LIKE``) masked, the
    rest as it is: what a log line, a notice or an import's report may echo of free text."""
    return ID_LIKE.sub(lambda found: mask_id_number(found.group(0)), text)


def make_id_number(region: str, born: date, sequence: int) -> str:
    """Build a valid ID number, for tests and demo data.

    Args:
        region: the 6-digit address code (e.g. ``"350521"`` for Hui'an County).
        born: the birth date.
        sequence: 0-999; odd for a man, even for a woman.

    Raises:
        ValueError: an argument is out of range.
    """
    if len(region) != 6 or not region.isascii() or not region.isdigit():
        raise ValueError(f"region must be 6 digits, got {region!r}")
    if not 0 <= sequence <= 999:
        raise ValueError(f"sequence must be 0-999, got {sequence}")
    if born < EARLIEST_BIRTH_DATE or born.year > 9999:
        raise ValueError(f"birth date out of range: {born}")
    first17 = f"{region}{born:%Y%m%d}{sequence:03d}"
    return first17 + check_character(first17)


def _parse_birth_date(digits: str) -> date | None:
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None
