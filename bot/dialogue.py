"""Reading a customer's message in context (pure functions, no framework): is it a question, how severe
is what it describes, which device and which steps it names, and what it corrects in a summary.

Each table covers German, English and Danish; matching is on lower-cased text with accents kept (the
customers' own spelling) and a few common ASCII spellings (ue for ü, oe for ø ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_QUESTION_WORDS = frozenset("""
how what when where why which who whom whose is are can could do does did will would should shall may any
wie was wann wo woher wohin warum wieso weshalb welche welcher welches wer wen wem ist sind kann können
koennen könnt gibt gibts habt haben hat muss müssen soll sollte werde wird wäre bekomme kriege darf
hvordan hvad hvornår hvornaar hvor hvorfor hvilken hvilket hvilke hvem er kan skal vil har får faar findes
må maa burde
""".split())


def is_question(text: str) -> bool:
    """A question mark anywhere, or a first word that opens a question in one of the languages."""
    if "?" in text:
        return True
    words = re.findall(r"[\wæøåäöüß]+", text.lower())
    return bool(words) and words[0] in _QUESTION_WORDS and len(words) >= 3


# -- severity ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Severity:
    """What the customer's words say about impact and urgency, and the escalation-matrix tags."""

    impact: str | None = None  # "everyone" | "several" | None (not said)
    urgency: str | None = None  # "critical" | "high" | None
    tags: tuple[str, ...] = ()

    @property
    def severe(self) -> bool:
        return bool(self.impact == "everyone" or self.urgency in ("critical", "high") or self.tags)


def _any(patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(p.strip() for p in patterns.strip().splitlines() if p.strip()), re.IGNORECASE)


_EVERYONE = _any(r"""
\b(for|to|affects?)\s+(all|everyone|everybody)\b
\b(everyone|everybody|nobody|no one|none of (us|our|my))\b.*\b(can|cannot|can't|is|has|gets?|works?|loads?|down)\b
\ball (of )?(our|my|the) (customers|guests|clients|users|screens|devices|members|staff|rooms)\b
\b(service|streamly|site|app|everything) (is|seems|looks) (completely |totally )?down\b
\bdown (for|at|in) (all|everyone|their homes|every)\b
\bit'?s (down|out) (for|at|everywhere)\b
\b(outage|nationwide|everywhere)\b
\b(bei|für) (allen|alle)\b
\balle (unsere |meine )?(kunden|gäste|gaeste|nutzer|bildschirme|geräte|zimmer|mitarbeiter)\b
\b(niemand|keiner) (kann|bekommt|hat)\b
\b(komplett|total|überall|ueberall) (down|weg|ausgefallen|tot)\b
\b(störung|stoerung|ausfall|großstörung)\b
\bfor alle\b
\balle (vores |mine )?(kunder|gæster|gaester|brugere|skærme|enheder|værelser|ansatte)\b
\b(ingen|ingen af os) (kan|får|har)\b
\b(nedbrud|driftsforstyrrelse|helt nede|nede overalt|nede for alle)\b
""")
_SEVERAL = _any(r"""
\b(several|multiple|many) (people|users|devices|profiles|family members|accounts)\b
\b(my|our) (whole |entire )?(family|household|kids|flatmates|colleagues)\b.*\b(too|also|as well)\b
\bmehrere (personen|nutzer|geräte|profile)\b
\b(die ganze|unsere ganze|meine ganze) familie\b
\bflere (personer|brugere|enheder|profiler)\b
\bhele (familien|husstanden)\b
""")
_TAKEOVER = _any(r"""
\bhack(ed|er|ing)?\b
\b(someone|somebody|a stranger) (else )?(logged|signed|got) in(to)?\b
\b(account|konto) (was |has been |got )?(taken over|stolen|übernommen|overtaget)\b
\bchanged my (password|e-?mail) without\b
\b(gehackt|gekapert|fremde anmeldung|jemand (hat sich|anderes) .*angemeldet)\b
\b(hacket|hacker|nogen (har )?logget ind|ukendt login)\b
\bphishing\b
""")
_LOCKED = _any(r"""
\b(locked|lock(ed)? out|can'?t (log|sign) ?in|cannot (log|sign) ?in|no access to my account)\b
\b(gesperrt|ausgesperrt|komme nicht (mehr )?(rein|in mein)|kann mich nicht (mehr )?anmelden)\b
\b(låst|laast|lukket ude|kan ikke logge (ind|på)|kommer ikke ind)\b
""")
_CHARGED = _any(r"""
\b(charg|bill(ed|ing)|debit|money|paying|payments? (keep|still|go))\w*
\b(abgebucht|abbuch|bucht|buchen|belast|bezahl|geld|zahle)\w*
\b(trukket|trækker|betal|penge|opkræv)\w*
""")
_PAYMENTS_DOWN = _any(r"""
\b(can'?t|cannot|unable to) (take|accept|process) (any )?(payments|card payments|orders)\b
\b(checkout|payments?) (is |are )?(broken|down|failing|not working)\b.*\b(customers|shop|store)\b
\b(customers|shop|store)\b.*\b(checkout|payments?) (is |are )?(broken|down|failing|not working)\b
\b(keine|nicht mehr) (zahlungen|kartenzahlungen|bestellungen) (annehmen|entgegennehmen|abwickeln)\b
\b(kasse|bezahlvorgang|checkout) (geht nicht|funktioniert nicht|ist kaputt)\b
\b(kan ikke|ikke længere) (modtage|tage imod|gennemføre) (betalinger|kortbetalinger|ordrer)\b
\b(betalingen|kassen|checkout) (virker ikke|fejler)\b.*\bkunder\b
""")
_URGENT = _any(r"""
\b(urgent|asap|right now|immediately|emergency)\b
\b(dringend|sofort|notfall|eilt)\b
\b(haster|akut|med det samme|nu!)\b
""")


def assess_severity(text: str) -> Severity:
    """Impact, urgency and tags the customer's words imply (None where they say nothing about it)."""
    tags: list[str] = []
    impact = "everyone" if _EVERYONE.search(text) else ("several" if _SEVERAL.search(text) else None)
    urgency: str | None = "high" if _URGENT.search(text) else None
    if _TAKEOVER.search(text):
        tags.append("account-takeover")
        urgency = "high"
    if _LOCKED.search(text) and _CHARGED.search(text):
        tags.append("locked-and-charged")
        urgency = "high"
    if _PAYMENTS_DOWN.search(text):
        tags.append("payments-down")
        impact, urgency = "everyone", "critical"
    if impact == "everyone":
        urgency = "critical"
    return Severity(impact, urgency, tuple(tags))


# -- devices and steps ------------------------------------------------------------------------------------

# canonical device labels: the form's own choices
DEVICES: dict[str, tuple[str, ...]] = {
    "Smart TV": ("smart tv", "smart-tv", "tv", "tv-app", "tv app", "fernseher", "fernsehen", "fjernsyn",
                 "fjernsynet", "samsung", "lg tv", "sony tv", "philips tv", "android tv", "apple tv", "tv'et",
                 "tv'en", "tvet", "television"),
    "Streamly Stick": ("stick", "dongle", "sticken", "remote", "fernbedienung", "fjernbetjening"),
    "Phone app": ("phone", "iphone", "android", "handy", "smartphone", "mobil", "mobile", "telefon", "tablet",
                  "ipad", "app on my phone", "mobiltelefon"),
    "Web browser": ("browser", "browseren", "chrome", "firefox", "safari", "edge", "laptop", "computer", "pc", "mac",
                    "macbook", "web player", "website", "webseite", "hjemmeside"),
}
_NEGATION = re.compile(r"\b(not|nicht|kein|keine|ikke|no)\s+(?:(?:on|in|at|auf|am|im|an|på|i|the|my|den|das|die|dem|"
                       r"der|mein|meinem|meiner|min|mit|et|en)\s+){0,2}$", re.IGNORECASE)


def devices_in(text: str) -> list[str]:
    """Device labels the text names, in order, leaving out negated ones ("the TV, not the phone")."""
    low = text.lower()
    found: list[tuple[int, str]] = []
    for label, words in DEVICES.items():
        for word in words:
            for m in re.finditer(rf"(?<![\w-]){re.escape(word)}(?![\w-])", low):
                if not _NEGATION.search(low[: m.start()]):
                    found.append((m.start(), label))
    seen: dict[str, int] = {}
    for pos, label in sorted(found):
        seen.setdefault(label, pos)
    return list(seen)


_TRIED = re.compile(r"""
    (?:\b(?:i(?:'ve| have)?|we(?:'ve| have)?)\s+(?:already\s+)?tried\s+(?P<en>[^.!?;]+))
  | (?:\b(?:already|have)\s+(?P<en2>(?:restarted|reinstalled|rebooted|re-?paired|cleared|reset|updated|logged out)[^.!?;]*))
  | (?:\b(?:hab(?:e)?|haben)\s+(?:ich\s+|wir\s+)?(?:schon|bereits)\s+(?P<de>[^.!?;]+?)\s*(?:versucht|probiert|gemacht|getan)\b)
  | (?:\b(?:schon|bereits)\s+(?P<de2>(?:neu gestartet|neu installiert|neustart|aus- und eingeschaltet)[^.!?;]*))
  | (?:\b(?:har|jeg\s+har|vi\s+har)\s+(?:allerede\s+)?prøvet\s+(?P<da>[^.!?;]+))
  | (?:\b(?:allerede|har)\s+(?P<da2>(?:genstartet|geninstalleret|nulstillet|opdateret)[^.!?;]*))
""", re.IGNORECASE | re.VERBOSE)


def steps_tried_in(text: str) -> str | None:
    """What the customer says they already tried ("I already tried new batteries"), or None."""
    m = _TRIED.search(text)
    if not m:
        return None
    found = next(g for g in m.groups() if g)
    found = found.strip(" ,")
    return found[:200] if len(found) >= 3 else None


# -- corrections at the summary ---------------------------------------------------------------------------

FIELD_WORDS: dict[str, tuple[str, ...]] = {
    "contact_email": ("e-mail", "email", "mail", "adresse", "address", "mailadresse"),
    "order_number": ("order number", "order no", "bestellnummer", "ordrenummer", "ordrenr", "bestellung",
                     "order", "ordre"),
    "invoice_number": ("invoice", "rechnungsnummer", "rechnung", "fakturanummer", "faktura"),
    "error_code": ("error code", "fehlercode", "fejlkode", "code", "kode"),
    "product": ("device", "gerät", "geraet", "enhed", "app", "product", "produkt"),
    "description": ("description", "beschreibung", "beskrivelse", "problem"),
    "urgency": ("urgency", "urgent", "dringlichkeit", "dringend", "hastegrad", "haster"),
    "impact": ("affected", "betroffen", "berørt", "beroert", "impact"),
    "category": ("topic", "thema", "emne", "category", "kategorie", "kategori"),
    "steps_tried": ("tried", "versucht", "probiert", "prøvet"),
}


def fields_named(text: str) -> list[str]:
    """Form fields the text names by their name ("the e-mail is wrong"), most specific first."""
    low = text.lower()
    hits: list[tuple[int, str]] = []
    for field, words in FIELD_WORDS.items():
        for word in words:
            if re.search(rf"(?<![\w-]){re.escape(word)}", low):
                hits.append((-len(word), field))
                break
    return list(dict.fromkeys(field for _, field in sorted(hits)))
