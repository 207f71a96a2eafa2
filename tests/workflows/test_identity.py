"""Resident ID numbers (GB 11643-1999): validation, reading and masking.

Rules and the two published examples: /work/shared/domain/NOTES.md, "Resident ID numbers".
"""

from __future__ import annotations

from datetime import date

import pytest

from workflows.identity import (
    InvalidIdNumber,
    age_on,
    birth_date,
    check_character,
    is_valid_id_number,
    make_id_number,
    mask_id_number,
    sex,
    validate_id_number,
)

TODAY = date(2024, 6, 1)


@pytest.mark.parametrize(
    "value",
    [
        "11010519491231002X",  # NOTES.md example, check character X
        "440524188001010014",  # NOTES.md example, born 1880
        make_id_number("350521", date(1958, 3, 1), 7),
        make_id_number("440604", date(2000, 2, 29), 124),
        make_id_number("440604", TODAY, 999),  # born today
    ],
)
def test_valid_numbers_are_returned_unchanged(value):
    assert validate_id_number(value, today=TODAY) == value
    assert is_valid_id_number(value, today=TODAY)


@pytest.mark.parametrize(
    ("typed", "normalised"),
    [
        ("11010519491231002x", "11010519491231002X"),
        ("  11010519491231002x\n", "11010519491231002X"),
        ("\t440524188001010014 ", "440524188001010014"),
    ],
)
def test_whitespace_is_stripped_and_a_lowercase_x_upper_cased(typed, normalised):
    assert validate_id_number(typed, today=TODAY) == normalised


@pytest.mark.parametrize(
    ("value", "check"),
    [
        ("", "length"),
        ("1101051949123100", "length"),
        ("11010519491231002X1", "length"),
        ("11010519491231002XX", "length"),
        ("1101051949123100XX", "format"),  # X only as the last character
        ("A1010519491231002X", "format"),
        ("11010519491231002Y", "format"),
        ("１１010519491231002X", "format"),  # full-width digits
        ("110105194902310023", "birth_date"),  # 1949-02-31 does not exist
        ("110105194913010024", "birth_date"),  # month 13
        ("110105179912310020", "birth_date"),  # before 1800-01-01
        (make_id_number("110105", date(2024, 6, 2), 1), "birth_date"),  # after TODAY
        ("110105194912310021", "check_digit"),
        ("440524188001010015", "check_digit"),
        (make_id_number("000000", date(1990, 1, 1), 1), "address_code"),  # no province 00
        (make_id_number("160101", date(1990, 1, 1), 1), "address_code"),  # GB/T 2260 has no 16
        (make_id_number("990101", date(1990, 1, 1), 1), "address_code"),
    ],
)
def test_each_failed_check_is_named(value, check):
    with pytest.raises(InvalidIdNumber) as caught:
        validate_id_number(value, today=TODAY)
    assert caught.value.check == check
    assert not is_valid_id_number(value, today=TODAY)


def test_an_impossible_birth_date_is_reported_before_the_check_character():
    with pytest.raises(InvalidIdNumber) as caught:
        validate_id_number("11010519490231002X", today=TODAY)
    assert caught.value.check == "birth_date"
    assert "出生日期" in caught.value.message_zh and "birth date" in caught.value.message_en
    # the digits the masking hides are not repeated in the message
    assert "19490231" not in caught.value.message_zh + caught.value.message_en


@pytest.mark.parametrize("province", ["11", "15", "23", "37", "46", "54", "65", "71", "81", "82"])
def test_every_province_level_code_is_accepted(province):
    number = make_id_number(f"{province}0101", date(1990, 1, 1), 1)
    assert validate_id_number(number, today=TODAY) == number


def test_a_birth_date_in_the_future_is_called_so():
    with pytest.raises(InvalidIdNumber) as caught:
        validate_id_number(make_id_number("110105", date(2024, 6, 2), 1), today=TODAY)
    assert "in the future" in caught.value.message_en and "晚于今天" in caught.value.message_zh
    with pytest.raises(InvalidIdNumber) as impossible:
        validate_id_number("110105194902310023", today=TODAY)
    assert "not a valid date" in impossible.value.message_en


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("110105194912310021", "X"),
        ("110105194912310020", "X"),
        ("440524188001010015", "4"),
    ],
)
def test_a_wrong_check_character_message_names_the_expected_one(value, expected):
    with pytest.raises(InvalidIdNumber) as caught:
        validate_id_number(value, today=TODAY)
    error = caught.value
    assert error.message_zh == f"身份证号码校验位错误，应为 {expected}"
    assert error.message_en == f"wrong check character, expected {expected}"
    assert str(error) == f"{error.message_zh} / {error.message_en}"
    assert isinstance(error, ValueError) and error.code == "invalid_id_number"


@pytest.mark.parametrize("value", [None, 11010519491231002, b"11010519491231002X"])
def test_non_text_is_invalid(value):
    assert not is_valid_id_number(value, today=TODAY)
    with pytest.raises(InvalidIdNumber) as caught:
        validate_id_number(value, today=TODAY)  # type: ignore[arg-type]
    assert caught.value.check == "format"


@pytest.mark.parametrize(
    ("first17", "expected"),
    [("11010519491231002", "X"), ("44052418800101001", "4"), ("35052119580301007", "X")],
)
def test_check_character(first17, expected):
    assert check_character(first17) == expected


@pytest.mark.parametrize("first17", ["1101051949123100", "1101051949123100X", "110105194912310021"])
def test_check_character_needs_17_digits(first17):
    with pytest.raises(ValueError):
        check_character(first17)


@pytest.mark.parametrize(
    ("value", "born", "sex_"),
    [
        ("11010519491231002X", date(1949, 12, 31), "female"),  # 17th digit 2
        ("440524188001010014", date(1880, 1, 1), "male"),  # 17th digit 1
        (make_id_number("350521", date(1990, 7, 15), 10), date(1990, 7, 15), "female"),
        (make_id_number("350521", date(1990, 7, 15), 11), date(1990, 7, 15), "male"),
    ],
)
def test_birth_date_and_sex(value, born, sex_):
    assert birth_date(value) == born
    assert sex(value) == sex_


@pytest.mark.parametrize(
    ("born", "day", "age"),
    [
        (date(1958, 3, 1), date(2023, 2, 28), 64),
        (date(1958, 3, 1), date(2023, 3, 1), 65),  # birthday: a full year more
        (date(2005, 1, 1), date(2022, 12, 31), 17),
        (date(2005, 1, 1), date(2023, 1, 1), 18),
        (date(2000, 2, 29), date(2023, 2, 28), 22),  # born on 29 Feb: older on 1 March
        (date(2000, 2, 29), date(2023, 3, 1), 23),
        (date(2000, 2, 29), date(2024, 2, 29), 24),
    ],
)
def test_age_on_counts_full_years(born, day, age):
    assert age_on(make_id_number("350521", born, 3), day) == age


def test_reading_an_invalid_number_raises():
    with pytest.raises(InvalidIdNumber):
        birth_date("110105194912310021")


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("11010519491231002X", "110105********002X"),
        ("11010519491231002x", "110105********002X"),
        (" 440524188001010014 ", "440524********0014"),
        ("110105194912310021", "110105********0021"),  # masks even an invalid number
        ("1101051949123100", "11************00"),
        ("1101051949123100219", "11***************19"),
        ("12345", "12*45"),
        ("1234", "****"),
        ("", ""),
        (None, "****"),  # never raises
    ],
)
def test_masking(value, masked):
    assert mask_id_number(value) == masked


@pytest.mark.parametrize(
    ("region", "born", "sequence"),
    [
        ("35052", date(1990, 1, 1), 1),
        ("35052a", date(1990, 1, 1), 1),
        ("350521", date(1799, 12, 31), 1),
    ]
    + [("350521", date(1990, 1, 1), -1), ("350521", date(1990, 1, 1), 1000)],
)
def test_make_id_number_rejects_bad_arguments(region, born, sequence):
    with pytest.raises(ValueError):
        make_id_number(region, born, sequence)
