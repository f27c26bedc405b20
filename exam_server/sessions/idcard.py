"""Identity document numbers of candidates.

The resident identity card number (居民身份证号码) follows GB 11643-1999: 6 digits of address
code, 8 digits of birth date (YYYYMMDD), 3 digits of sequence and one check character. The check
character is ``"10X98765432"[sum(d_i * w_i) mod 11]`` over the first 17 digits with the weights
``w_i = 2**(17 - i) mod 11`` (i = 0 … 16), that is 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2.
Residence permits of Hong Kong, Macao and Taiwan residents use the same format.

Other documents (passport, travel permits …) are checked only for a plausible shape, since their
formats differ by issuer.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from .models import IdType

WEIGHTS = tuple(2 ** (17 - i) % 11 for i in range(17))
CHECK_CHARS = "10X98765432"

_RESIDENT = re.compile(r"^\d{17}[\dX]$")
_OTHER = re.compile(r"^[A-Z0-9][A-Z0-9\-]{3,31}$")

ID_TYPE_NAMES = {
    IdType.RESIDENT_ID: ("居民身份证", "Resident identity card"),
    IdType.PASSPORT: ("护照", "Passport"),
    IdType.HK_MACAO: ("港澳居民来往内地通行证", "Mainland travel permit for HK/Macao residents"),
    IdType.TAIWAN: ("台湾居民来往大陆通行证", "Mainland travel permit for Taiwan residents"),
    IdType.FOREIGN_PERMANENT: ("外国人永久居留身份证", "Foreign permanent resident ID card"),
    IdType.OTHER: ("其他证件", "Other document"),
}

# What roster files write in the 证件类型 column, normalised (NFKC, case-folded, no spaces).
_ID_TYPE_ALIASES = {
    "身份证": IdType.RESIDENT_ID,
    "居民身份证": IdType.RESIDENT_ID,
    "二代身份证": IdType.RESIDENT_ID,
    "idcard": IdType.RESIDENT_ID,
    "护照": IdType.PASSPORT,
    "港澳通行证": IdType.HK_MACAO,
    "港澳居民来往内地通行证": IdType.HK_MACAO,
    "回乡证": IdType.HK_MACAO,
    "台胞证": IdType.TAIWAN,
    "台湾居民来往大陆通行证": IdType.TAIWAN,
    "外国人永久居留身份证": IdType.FOREIGN_PERMANENT,
    "外国人永久居留证": IdType.FOREIGN_PERMANENT,
    "其他": IdType.OTHER,
    "其他证件": IdType.OTHER,
}


def check_char(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits of a resident ID number."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError("the check character needs exactly 17 digits")
    return CHECK_CHARS[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


def parse_id_type(text: str) -> str:
    """An ID type from its key (``passport``) or a Chinese name (``护照``); empty means resident
    ID card. Raises ``ValueError`` naming the accepted values."""
    raw = unicodedata.normalize("NFKC", text or "").strip()
    if not raw:
        return IdType.RESIDENT_ID
    key = re.sub(r"\s+", "", raw).casefold()
    if key in IdType.ALL:
        return key
    if key in _ID_TYPE_ALIASES:
        return _ID_TYPE_ALIASES[key]
    for id_type, (zh, en) in ID_TYPE_NAMES.items():
        if key in (zh, re.sub(r"\s+", "", en).casefold()):
            return id_type
    raise ValueError(
        f"unknown ID type {raw!r}; use one of {', '.join(IdType.ALL)} or 身份证, 护照, "
        f"港澳通行证, 台胞证, 外国人永久居留身份证, 其他"
    )


def normalize_id_number(id_type: str, text: str, *, today: dt.date | None = None) -> str:
    """The canonical form of an ID number (full-width characters made ASCII, spaces removed,
    letters upper case), or ``ValueError`` saying what is wrong with it."""
    value = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or "")).upper()
    if not value:
        raise ValueError("the ID number is missing")
    if id_type != IdType.RESIDENT_ID:
        if not _OTHER.match(value):
            raise ValueError(
                "a document number has 4 to 32 letters, digits or hyphens"
                + (f", got {len(value)} characters" if len(value) > 32 else "")
            )
        return value
    if not _RESIDENT.match(value):
        raise ValueError(
            f"a resident ID number has 17 digits and a check digit or X, got {value!r}"
            if len(value) <= 32
            else "a resident ID number has 18 characters"
        )
    try:
        born = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise ValueError(f"the ID number holds no valid birth date ({value[6:14]})") from None
    if born.year < 1900 or born > (today or dt.date.today()):
        raise ValueError(f"the ID number holds an impossible birth date ({born.isoformat()})")
    expected = check_char(value[:17])
    if value[17] != expected:
        raise ValueError(f"the check digit of the ID number is wrong (expected {expected})")
    return value


def mask_id_number(id_type: str, value: str) -> str:
    """The ID number as printed on tickets: the birth date and most digits hidden."""
    if id_type == IdType.RESIDENT_ID and len(value) == 18:
        return value[:4] + "*" * 10 + value[14:]
    if len(value) <= 4:
        return "*" * len(value)
    keep = 2 if len(value) < 8 else 3
    return value[:keep] + "*" * (len(value) - keep - 2) + value[-2:]
