"""The RideShare areas: the numbered places a ride may start from or go to.

The list comes from `AreaNameEnum.csv` beside this module (header `Area No,Area Name`).
"""

import csv
import re
import reprlib
from pathlib import Path

AREA_FILE = Path(__file__).with_name("AreaNameEnum.csv")

_DIGITS = re.compile(r"[0-9]+")

# Rejected values are quoted in error messages; a request may send very long ones.
_SHORT_REPR = reprlib.Repr()
_SHORT_REPR.maxstring = 80
_SHORT_REPR.maxother = 80


def load_areas(path: Path = AREA_FILE) -> dict[int, str]:
    """Read the area file into a mapping of area number to area name.

    Raises ValueError when a row is malformed or a number appears twice, so a broken file
    stops the service at start instead of rejecting valid rides later.
    """
    areas: dict[int, str] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            number_text = (row.get("Area No") or "").strip()
            name = (row.get("Area Name") or "").strip()
            if not _DIGITS.fullmatch(number_text) or not name:
                raise ValueError(f"invalid row in {path}: {row!r}")
            number = int(number_text)
            if number in areas:
                raise ValueError(f"area {number} appears twice in {path}")
            areas[number] = name
    return areas


AREAS: dict[int, str] = load_areas()


def parse_area(value: object) -> int:
    """Return the area number that `value` names, or raise ValueError saying why not.

    Accepted: a JSON integer or a string of ASCII digits naming an area in the file.
    Rejected: booleans (a bool is an int in Python), floats even when integral, signs,
    spaces, non-ASCII digits, and numbers outside the file.
    """
    if isinstance(value, bool):
        # ValueError, not TypeError: a JSON value of the wrong type is one more invalid area.
        raise ValueError(  # noqa: TRY004
            f"area must be a whole number or a string of digits, got {_SHORT_REPR.repr(value)}"
        )
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value):
        number = int(value)
    else:
        raise ValueError(f"area must be a whole number or a string of digits, got {_SHORT_REPR.repr(value)}")

    if number not in AREAS:
        raise ValueError(f"unknown area {_SHORT_REPR.repr(value)}: areas are numbered 1 to {max(AREAS)}")
    return number
