"""Reading a scenario's TOML text and wording its validation problems.

Every failure names the file, the line (TOML syntax, bytes that are not UTF-8) and the cause.
"""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path

from pydantic import ValidationError

from zoning.errors import ScenarioError

log = logging.getLogger(__name__)


def read_toml(path: Path) -> dict[str, object]:
    """A TOML file's tables; every failure names the file, the line and the cause. A UTF-8
    byte-order mark (added by Windows Notepad) is accepted."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot be read: {exc.strerror or exc}") from exc
    if data.startswith(b"\xef\xbb\xbf"):
        log.info("%s starts with a UTF-8 byte-order mark; ignoring it", path)
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ScenarioError(
            f"{path}: line {line}, column {column}: byte 0x{data[exc.start]:02x} is not UTF-8 text "
            "(the file was probably saved as Windows-1252 or Latin-1). How to fix: save it as UTF-8."
        ) from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}. How to fix: check that line "
                            "(text values need quotes; tables are written [name]).") from exc


def validation_problems(exc: ValidationError) -> str:
    """pydantic's errors as one line each: dotted field, message, the value received."""
    problems = [
        f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
        + (f" (got {err['input']!r})" if err["type"] != "missing" and not isinstance(err["input"], dict) else "")
        for err in exc.errors()
    ]
    return f"{len(problems)} problem(s):\n  - " + "\n  - ".join(problems)
