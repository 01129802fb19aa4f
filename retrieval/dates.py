"""Publication dates in words: how readers see them and how the index learns them.

Articles keep ISO dates; readers (and questions such as «تقرير أكتوبر 2024») use month
names, in the Egyptian/Gulf form or the Levantine one.
"""

from __future__ import annotations

import datetime as dt

_MONTHS_AR = (
    ("يناير", "كانون الثاني"),
    ("فبراير", "شباط"),
    ("مارس", "آذار"),
    ("أبريل", "نيسان"),
    ("مايو", "أيار"),
    ("يونيو", "حزيران"),
    ("يوليو", "تموز"),
    ("أغسطس", "آب"),
    ("سبتمبر", "أيلول"),
    ("أكتوبر", "تشرين الأول"),
    ("نوفمبر", "تشرين الثاني"),
    ("ديسمبر", "كانون الأول"),
)
_MONTHS_EN = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


_MONTH_NUMBERS = {
    name: number
    for number, names in enumerate(_MONTHS_AR, 1)
    for name in (*names, *(n.replace("أ", "ا").replace("آ", "ا") for n in names))
}
_MONTH_NUMBERS.update({"ابريل": 4, "اغسطس": 8, "كانون": 0, "تشرين": 0})


def month_name(number: int) -> str | None:
    """Return the common Arabic name of month 1-12 (فبراير), or None."""
    return _MONTHS_AR[number - 1][0] if 1 <= number <= 12 else None


def english_month_name(number: int) -> str | None:
    """Return the English name of month 1-12, or None."""
    return _MONTHS_EN[number - 1] if 1 <= number <= 12 else None


def month_number(name: str) -> int | None:
    """Return 1-12 for an Arabic month name (Egyptian or Levantine), None if ambiguous."""
    number = _MONTH_NUMBERS.get(name.strip())
    return number or None


def _parse(iso: str | None) -> dt.date | None:
    if not iso:
        return None
    try:
        return dt.date.fromisoformat(iso)
    except ValueError:
        return None


def arabic_date(iso: str | None, *, both_names: bool = False) -> str | None:
    """Render an ISO date as «16 فبراير 2024» (or «16 فبراير/شباط 2024»); None if absent."""
    date = _parse(iso)
    if date is None:
        return iso or None
    common, levantine = _MONTHS_AR[date.month - 1]
    month = f"{common}/{levantine}" if both_names else common
    return f"{date.day} {month} {date.year}"


def english_date(iso: str | None) -> str | None:
    """Render an ISO date as «16 February 2024»; None if absent."""
    date = _parse(iso)
    if date is None:
        return iso or None
    return f"{date.day} {_MONTHS_EN[date.month - 1]} {date.year}"
