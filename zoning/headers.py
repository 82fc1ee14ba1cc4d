"""Column names and text encodings of user tables, settled once for every reader.

Every reader of a demand, provider, current-zone or band table (``zoning.inputs``) and the
privacy rule (``zoning.publish.privacy``) take their column names from :func:`normalise_header`
and their text encoding from :func:`detect_encoding`, so a file read one way is never re-read
another way (a Windows-1252 file once crashed the privacy check after being read correctly).
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

#: Tried in this order. UTF-8 with or without a byte-order mark first; Windows-1252 (what
#: Excel on a UK Windows PC writes for "CSV") second; Latin-1 last, since it decodes anything.
ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")

#: Header spellings that mean one of our column names (after :func:`_canonical`).
ALIASES: dict[str, str] = {
    "client_reference": "client_ref", "client_no": "client_ref", "client_number": "client_ref",
    "clientref": "client_ref", "clientid": "client_id", "service_user_id": "client_id",
    "service_user_ref": "client_ref", "person_id": "client_id", "nhs_number": "client_id",
    "mosaic_id": "client_id", "care_first_id": "client_id",
    "post_code": "postcode", "postal_code": "postcode",
    "hours_week": "hours_per_week", "weekly_hours": "hours_per_week", "hours_pw": "hours_per_week",
    "hrs_per_week": "hours_per_week", "hours_a_week": "hours_per_week",
    "number_of_clients": "clients", "client_count": "clients", "n_clients": "clients",
    "no_of_clients": "clients", "clients_count": "clients",
}

#: Columns that identify a person: a table with any of them is client by client.
CLIENT_COLUMNS = ("client_ref", "client_id")


def _canonical(name: str) -> str:
    text = unicodedata.normalize("NFKC", str(name)).replace("\ufeff", "").strip().lower()
    text = re.sub(r"[^0-9a-z]+", "_", text)
    return text.strip("_")


def normalise_header(name: object) -> str:
    """``"Client Ref"``, ``" client-ref "``, ``"CLIENT_REF"`` -> ``"client_ref"``; known aliases
    (``"Hours Per Week"``, ``"Weekly hours"``) -> our names. Names we do not know keep their
    canonical form (lower case, runs of other characters as ``_``)."""
    text = _canonical(str(name))
    return ALIASES.get(text, text)


def normalise_headers(names: list[object]) -> list[str]:
    """:func:`normalise_header` over a header row."""
    return [normalise_header(n) for n in names]


def detect_encoding(path: Path) -> str:
    """The first of :data:`ENCODINGS` that decodes the whole file."""
    data = path.read_bytes()
    for encoding in ENCODINGS:
        try:
            data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return encoding
    return ENCODINGS[-1]  # pragma: no cover - latin-1 decodes any byte string
