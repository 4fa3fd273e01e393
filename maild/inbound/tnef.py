"""winmail.dat (TNEF): the body and the files Outlook wrapped inside it.

The only module that imports tnefparse. Outlook sometimes sends a message
whose text and attachments all sit inside one application/ms-tnef part;
without unpacking it the case would have an empty description and one
opaque file. Anything that does not unpack cleanly is left as it was.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

log = logging.getLogger("maild.tnef")


@dataclass
class TnefContents:
    text: str | None = None
    html: str | None = None
    files: list[tuple[str, bytes]] = field(default_factory=list)


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace") if value.strip(b"\0 \r\n") else None
    if isinstance(value, str):
        value = value.replace("\0", "").strip()
        return value or None
    return None


def unpack(data: bytes) -> TnefContents | None:
    """The body (plain or HTML) and the files in a TNEF blob, or None when it is not readable TNEF."""
    try:
        import tnefparse

        tnef = tnefparse.TNEF(data)
        contents = TnefContents(text=_text(tnef.body), html=_text(getattr(tnef, "htmlbody", None)))
        for attachment in tnef.attachments:
            name = attachment.long_filename() if hasattr(attachment, "long_filename") else attachment.name
            payload = attachment.data
            if isinstance(payload, bytes):
                contents.files.append((_text(name) or "attachment.bin", payload))
    except Exception as e:  # a hostile or truncated blob: keep winmail.dat as it is
        log.debug("winmail.dat not unpacked: %s", e)
        return None
    return contents
