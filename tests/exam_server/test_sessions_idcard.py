"""Identity document numbers (no database): the GB 11643 check character, birth dates, other
document types, masking."""

from __future__ import annotations

import datetime as dt

import pytest

from exam_server.sessions.idcard import (
    check_char,
    mask_id_number,
    normalize_id_number,
    parse_id_type,
)
from tests.exam_server.sessions_helpers import valid_id, wrong_check


def test_check_character_matches_the_iso_7064_form():
    # valid_id computes the check character as (12 - S mod 11) mod 11 (10 -> X); the module
    # uses the table "10X98765432"[S mod 11]. Both must agree on every residue of S.
    seen = set()
    for seq in range(200):
        number = valid_id(seq)
        assert check_char(number[:17]) == number[17]
        seen.add(number[17])
    assert seen == set("0123456789X")


def test_the_standards_worked_example():
    # GB 11643-1999 appendix example: 11010519491231002X (born 1949-12-31, female, check X).
    assert check_char("11010519491231002") == "X"
    assert normalize_id_number("resident_id", "11010519491231002x") == "11010519491231002X"


def test_resident_id_numbers_are_normalised_or_refused_with_the_reason():
    good = valid_id(7, birth="20000229")
    assert normalize_id_number("resident_id", f" {good[:6]} {good[6:]} ") == good
    fullwidth = "".join(chr(ord(c) + 0xFEE0) for c in good)  # １１０１… as typed by IMEs
    assert normalize_id_number("resident_id", fullwidth) == good
    cases = {
        wrong_check(good): "check digit",
        good[:17]: "17 digits",
        good + "1": "17 digits",
        "A" + good[1:]: "17 digits",
        valid_id(1, birth="19990229")[:17] + "0": "birth date",  # not a leap year
        valid_id(1, birth="18991231"): "impossible birth date",
        valid_id(1, birth="20300101"): "impossible birth date",
        "": "missing",
    }
    for number, reason in cases.items():
        with pytest.raises(ValueError, match=reason):
            normalize_id_number("resident_id", number, today=dt.date(2026, 6, 15))


def test_other_documents_are_checked_for_shape_only():
    assert normalize_id_number("passport", "e1234 5678") == "E12345678"
    assert normalize_id_number("hk_macao_permit", "H12345678") == "H12345678"
    for bad in ("E1", "E12#45678", "X" * 33):
        with pytest.raises(ValueError, match="document number"):
            normalize_id_number("passport", bad)


def test_id_types_from_roster_words():
    assert parse_id_type("") == "resident_id"
    assert parse_id_type("身份证") == "resident_id"
    assert parse_id_type(" 护照 ") == "passport"
    assert parse_id_type("PASSPORT") == "passport"
    assert parse_id_type("台胞证") == "taiwan_permit"
    assert parse_id_type("港澳居民来往内地通行证") == "hk_macao_permit"
    assert parse_id_type("Foreign permanent resident ID card") == "foreign_permanent_id"
    with pytest.raises(ValueError, match="unknown ID type"):
        parse_id_type("驾驶证")


def test_masking_hides_the_birth_date():
    number = valid_id(3, birth="19851203")
    masked = mask_id_number("resident_id", number)
    assert masked == number[:4] + "*" * 10 + number[14:]
    assert "19851203" not in masked and len(masked) == 18
    assert mask_id_number("passport", "E12345678") == "E12****78"
    assert mask_id_number("other", "ABCD") == "****"
