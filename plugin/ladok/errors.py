"""What can go wrong talking to Ladok, as exceptions whose texts are safe to log and show:
no personnummer (masked wherever Ladok's words hold one) and no certificate material."""

from __future__ import annotations

from typing import Any

from plugin.ladok.model import Refusal
from plugin.rules.identity import mask_in_text


class LadokError(Exception):
    """Ladok could not do what was asked; the message is safe to log and to show."""

    def __init__(self, message: str):
        super().__init__(mask_in_text(message))


class LadokNotConfigured(LadokError):
    """The `[ladok]` settings needed for the call are missing."""


class LadokCertificateError(LadokError):
    """TLS with Ladok failed: our certificate was refused, or Ladok's was not trusted."""


class LadokUnavailable(LadokError):
    """Ladok did not answer usefully (down, 5xx, timeouts) even after the retries.

    `uncertain` is set for a write whose answer was lost after it was sent: Ladok may have
    applied it."""

    def __init__(self, message: str, status: int | None = None, uncertain: bool = False):
        super().__init__(message)
        self.status, self.uncertain = status, uncertain


class LadokRefusal(LadokError):
    """Ladok answered 4xx; `refusal` holds its Felgrupp, Detaljkod, Meddelande and FelUID."""

    def __init__(self, refusal: Refusal):
        super().__init__(str(refusal))
        self.refusal = refusal

    @property
    def status(self) -> int:
        return self.refusal.status

    @classmethod
    def from_answer(cls, status: int, body: Any) -> LadokRefusal:
        data = body if isinstance(body, dict) else {}

        def text(key: str) -> str:
            value = data.get(key)
            return mask_in_text(str(value)) if value is not None else ""

        return cls(Refusal(status, text("Felgrupp"), text("Detaljkod"), text("Meddelande"),
                           text("FelUID")))
