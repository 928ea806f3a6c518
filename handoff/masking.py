"""Masks card numbers (Luhn-checked digit runs), IBANs (mod-97 checked) and passwords in free text."""

from __future__ import annotations

import re

_CARD_RE = re.compile(r"(?<![\d])(?:\d[ -]?){12,18}\d(?![\d])")
_IBAN_RE = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Za-z0-9]){11,30}\b")
_PASSWORD_RE = re.compile(
    r"(?P<label>\b(?:password|passwort|kennwort|passwd|pwd|adgangskode(?:n)?|kodeord(?:et)?|pin)\b)"
    r"(?P<sep>\s*(?:(?:is|ist|er|lautet|was|war|var)\b\s*:?|[:=])\s*|\s+)"
    r"(?P<secret>\S+)",
    re.IGNORECASE,
)


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_ok(iban: str) -> bool:
    iban = iban.replace(" ", "").upper()
    if not 15 <= len(iban) <= 34:
        return False
    rearranged = iban[4:] + iban[:4]
    try:
        number = int("".join(str(int(ch, 36)) for ch in rearranged))
    except ValueError:
        return False
    return number % 97 == 1


def _mask_card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if 13 <= len(digits) <= 19 and luhn_ok(digits):
        return "[card ****" + digits[-4:] + "]"
    return match.group(0)


def _mask_iban(match: re.Match[str]) -> str:
    text = match.group(0)
    for end in range(len(text), 14, -1):  # the greedy match may have swallowed a following word
        if text[end - 1] != " " and iban_ok(text[:end]):
            return "[IBAN masked]" + text[end:]
    return text


def _mask_password(match: re.Match[str]) -> str:
    return f"{match.group('label')}{match.group('sep')}[password masked]"


def mask_payment_data(text: str) -> str:
    """Card numbers and IBANs only: what the chat channels mask before Rasa stores or logs a message
    (passwords are left to the transcript masking: "Passwort vergessen" must still reach the bot)."""
    return _CARD_RE.sub(_mask_card, _IBAN_RE.sub(_mask_iban, text))


def mask_text(text: str) -> str:
    return _PASSWORD_RE.sub(_mask_password, mask_payment_data(text))
