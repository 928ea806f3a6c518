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

# words that may come before the one that opens a question ("and can I ...", "og kan jeg ...", "und wie ...")
_LEAD_INS = frozenset("and also so but ok okay oh hi hey then und aber also noch ok og men så nå hej".split())


def is_question(text: str) -> bool:
    """A question mark anywhere, or a first word (after lead-ins like "and", "og", "und") that opens a
    question in one of the languages."""
    if "?" in text:
        return True
    words = re.findall(r"[\wæøåäöüß]+", text[:2000].lower())  # the opening words decide
    start = 0
    while len(words) - start > 3 and words[start] in _LEAD_INS:
        start += 1
    words = words[start:]
    if len(words) < 3 or words[0] not in _QUESTION_WORDS:
        return False
    if words[0] in _WH_WORDS:
        return True
    # a verb first and a negation next is a statement without its subject: "hat nicht geholfen",
    # "virker stadig ikke", "is not working"; so is a perfect tense without it: "har logget ud og ind",
    # "habe gelöscht", "have tried that" (an auxiliary, maybe an adverb, then a participle)
    if words[1] in _STATEMENT_SECOND:
        return False
    if words[0] in _AUXILIARIES:
        verb = words[2] if words[1] in _ADVERBS else words[1]
        return not _PARTICIPLE.fullmatch(verb)
    return True


_WH_WORDS = frozenset("""how what when where why which who whom whose wie was wann wo woher wohin warum wieso
weshalb welche welcher welches wer wen wem hvordan hvad hvornår hvornaar hvor hvorfor hvilken hvilket hvilke
hvem""".split())
_STATEMENT_SECOND = frozenset("not nicht nichts nix kein keine noch immer schon leider ikke stadig slet".split())
_AUXILIARIES = frozenset("har havde habe hab hat hatte have has had".split())
_ADVERBS = frozenset("også ogsaa allerede lige nu så igen auch schon bereits jetzt dann neu wieder nochmal also already just even now again".split())
# a past participle ("logget", "prøvet", "nulstillet", "gelöscht", "installiert", "tried", "restarted")
_PARTICIPLE = re.compile(r"""(?x)
    ge\w{3,}(?:t|en) | \w{3,}iert              # gemacht, gelöscht, gestartet, geschrieben; installiert
  | \w{3,}(?:et|t|ede)                          # logget, prøvet, nulstillet, opdateret, købt, skiftede
  | \w{3,}ed | tried|done|reset|made|put|sent   # restarted, reinstalled, updated
""")


def _any(patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(p.strip() for p in patterns.strip().splitlines() if p.strip()), re.IGNORECASE)


# the customer says the answer just given did not solve it (typed instead of the 👎 button)
_NOT_HELPED = _any(r"""
\b(?:did|does|do|has|have)\s*(?:n[o']?t|n't)\s+(?:really\s+)?(?:help|work|fix|solve|change)
\b(?:didnt|doesnt|dont|hasnt)\s+(?:help|work|fix|solve)
\bnot\s+(?:helpful|useful|working|solved|fixed)\b|\buseless\b|\bno\s+(?:help|use|luck|change)\b
\b(?:tried|done|did)\s+(?:that|it|this|all\s+(?:of\s+)?that|those|everything)\b
\b(?:hat|hilft|half|bringt|brachte|nützt|nuetzt|nutzt)\s+(?:mir\s+|uns\s+)?(?:leider\s+|aber\s+)?(?:gar\s+)?(?:nicht|nichts|nix|kaum|wenig)\b
\b(?:schon|bereits)\s+(?:gemacht|versucht|probiert|ausprobiert|getan)\b|\bhab(?:e)?\s+ich\s+(?:schon|bereits)\b
\b(?:hjalp|hjælper|hjaelper|hjælp)\s+(?:mig\s+)?(?:desværre\s+)?(?:slet\s+)?(?:ikke|ikk|ingenting)\b
\b(?:det\s+)?(?:nytter|nyttede)\s+ikke\b|\b(?:allerede|har)\s+prøvet\b|\bprøvet\s+(?:det|alt)\b
\bstill\s+(?:not|doesn'?t|won'?t|isn'?t|can'?t|no)\b|\b(?:immer\s+noch|noch\s+immer)\s+(?:nicht|kein)|\bstadig\s+ikke\b
""")
# weaker: "still", "doesn't work" -- the problem goes on; read as "did not help" only for statements
_STILL = _any(r"""
\bstill\b|\bsame\s+(?:problem|issue|error|thing)\b
\bimmer\s+noch\b|\bnoch\s+immer\b|\bnach\s+wie\s+vor\b|\bweiterhin\b|\btrotzdem\b
\b(?:geht|klappt|funktioniert|läuft|laeuft)\s+(?:\w+\s+)?nicht\b
\bstadig\b|\bfortsat\b|\b(?:virker|virkede|fungerer|fungerede|kører)\s+(?:\w+\s+)?(?:ikke|ikk)\b
\b(?:doesn'?t|does\s+not|won'?t|will\s+not|isn'?t|is\s+not)\s+(?:work|working|start|play|load|open)
""")


def says_not_helped(text: str) -> bool:
    """Does ``text``, typed right after an answer, say that the answer did not solve the problem?
    "hat nicht geholfen, ton ist immer noch weg", "tried that already", "virker stadig ikke"."""
    if _NOT_HELPED.search(text):
        return True
    return bool(_STILL.search(text)) and not is_question(text)


# asking how far the team has got with a request (inside a longer message the classifier reads as a problem)
_ASKS_STATUS = _any(r"""
\bhow\s+far\s+(?:along\s+)?(?:are|is)\s+(?:you|it|that|things)\b|\bany\s+news\b|\bwhat'?s\s+the\s+status\b
\bany\s+(?:update|progress)\s+on\s+(?:my|her|his|our|the)\s+(?:ticket|case|request)\b
\bwie\s+weit\s+(?:sind\s+sie|seid\s+ihr|sind\s+ihr)\b|\b(?:gibt\s+es|gibt's|gibts)\s+(?:schon\s+)?(?:was\s+|etwas\s+)?neues\b
\bwie\s+ist\s+der\s+(?:stand|status)\b|\bstand\s+der\s+dinge\b
\bhvor\s+langt\s+er\s+(?:i|sagen|det\s+nået)\b|\ber\s+der\s+(?:noget\s+)?nyt\b|\bhvad\s+er\s+status\b|\bhvordan\s+går\s+det\s+med\s+(?:min|hendes|hans|vores|sagen)\b
""")


def asks_status(text: str) -> bool:
    """Does ``text`` ask how far the team has got ("how far along are you with it?", "wie weit sind Sie
    damit?", "hvor langt er I med det?")?"""
    return bool(_ASKS_STATUS.search(text))


# told of a known problem, the customer says theirs is another one (typed instead of the button)
_OTHER_PROBLEM = _any(r"""
\b(?:my|the|our)\s+(?:problem|issue)\s+(?:is|'?s)\s+(?:a\s+|an\s+|something\s+)?(?:different|another|other|else)\b
\b(?:different|another|other|separate)\s+(?:problem|issue|thing|error)\b|\bsomething\s+(?:else|different)\b
\b(?:that'?s|that\s+is|it'?s|it\s+is)\s+not\s+(?:my\s+(?:problem|issue)|it|the\s+(?:problem|issue))\b
\bnot\s+(?:my|the\s+same)\s+(?:problem|issue)\b|\bunrelated\b
\b(?:mein|unser)\s+problem\s+ist\s+(?:ein\s+)?(?:anderes|ein\s+anderes|was\s+anderes|etwas\s+anderes)\b
\b(?:ein|eine)\s+(?:anderes|andere)\s+(?:problem|sache|fehler|thema)\b|\b(?:was|etwas)\s+(?:ganz\s+)?anderes\b
\b(?:das|es)\s+ist\s+(?:es\s+)?nicht\s+(?:mein|das)\s+problem\b|\bnicht\s+(?:mein|dasselbe|das\s+gleiche)\s+problem\b
\bmit\s+problem\s+er\s+(?:et\s+)?(?:andet|anden)\b
\b(?:et|en)\s+(?:andet|anden)\s+(?:problem|fejl|sag|ting)\b|\bnoget\s+(?:helt\s+)?andet\b
\bdet\s+er\s+ikke\s+(?:mit|det)\s+problem\b|\bikke\s+(?:mit|det\s+samme)\s+problem\b
""")


def says_other_problem(text: str) -> bool:
    """Does ``text``, typed right after the bot told of a known problem, say the customer's problem is
    another one? "my problem is a different one", "das ist was anderes", "mit problem er et andet"."""
    return bool(_OTHER_PROBLEM.search(text))


# "can't you just do it for me?": the customer wants the change made, not the instructions
_DO_IT = _any(r"""
\b(?:can|could|would|will)\s*(?:n'?t|not)?\s+you\s+(?:\w+\s+){0,2}(?:do|change|switch|cancel|fix|sort|handle|process|set|make|update)\s+(?:it|that|this|them)\b
\b(?:do|change|switch|sort|handle|fix|set|cancel|process|update)\s+(?:it|that|this)(?:\s+\w+)?\s+for\s+me\b
\b(?:kannst|könnt|koennt|können|koennen)\s+(?:du|ihr|sie)\s+(?:\w+\s+){0,4}(?:machen|erledigen|umstellen|ändern|aendern|übernehmen|einstellen|kündigen|wechseln)\b
\b(?:mach|macht|erledige|erledigt|stell|stellt)\s+(?:du\s+|ihr\s+)?(?:das|es)\s+(?:\w+\s+)?(?:für\s+mich|bitte|um)\b
\bfür\s+mich\s+(?:machen|erledigen|umstellen|ändern|kündigen)\b
\bkan\s+(?:du|i)\s+(?:\w+\s+){0,3}(?:gøre|ordne|ændre|skifte|klare|fikse|opsige|lave)\s+det\b
\b(?:gør|ordn|ordne|klar|lav)\s+det\s+(?:\w+\s+)?for\s+mig\b
\b(?:open|create|raise|file|log|make|start|submit)\s+(?:me\s+)?(?:a|an|the)\s+(?:\w+\s+)?(?:ticket|case|claim|support\s+request)\b
\b(?:can|could|would|will)\s+(?:someone|somebody|anyone|one\s+of\s+you)\s+(?:\w+\s+){0,3}(?:for\s+me|on\s+my\s+behalf)\b
\b(?:ticket|fall|vorgang|reklamation)\s+(?:\w+\s+){0,3}(?:auf|an)?(?:machen|legen|eröffnen|erstellen|aufnehmen)\b
\b(?:mach|machen|macht|leg|legen|legt|eröffne|eröffnen|erstell|erstellen|erstellt)\s+(?:sie\s+|du\s+|ihr\s+)?(?:\w+\s+){0,2}(?:ein(?:en)?\s+)?(?:ticket|fall|vorgang)\b
\b(?:kannst|könnt|koennt|können|koennen|könnten|koennten)\s+(?:du|ihr|sie)\s+(?:\w+\s+){0,5}(?:anstoßen|anstossen|beantragen|veranlassen|einleiten|anfordern|nachschicken|zuschicken|erstatten|stornieren|zurücksetzen|zuruecksetzen|löschen|loeschen|entsperren|freischalten)\b
\bfür\s+mich\s+(?:anstoßen|anstossen|beantragen|veranlassen|einleiten|anfordern|löschen|erledigen)\b
\b(?:opret|oprette|opretter|lav|lave|åbn|åbne|aabne|start|starte)\s+(?:\w+\s+){0,2}(?:en\s+)?(?:sag|ticket|henvendelse|reklamation)\b
\bkan\s+(?:du|i)\s+(?:ikke\s+)?(?:\w+\s+){0,3}(?:slette|sende|refundere|tilbagebetale|låse\s+op|nulstille|annullere|igangsætte)\b
\b(?:i\s+want|i'd\s+like|give\s+me)\s+(?:my\s+money|it|one\s+of\s+them|the\s+money)\s+back\b|\bi\s+want\s+a\s+refund\b
\b(?:ich\s+(?:will|möchte|moechte)|geben\s+sie\s+mir)\s+(?:mein|das|eine?|einen)\s*(?:geld|betrag|abbuchung|davon)?\s+(?:\w+\s+)?zurück\b
\bjeg\s+vil\s+(?:gerne\s+)?have\s+(?:mine\s+penge|pengene|det\s+ene|dem|det|beløbet)\s+(?:\w+\s+)?tilbage\b
""")


# asking to be shown how ("können Sie mir erklären, wie ich das löschen kann?") is not asking us to do it
_HOW_DO_I = _any(r"""
\bhow\s+(?:do|can|could|should|would)\s+i\b|\bwie\s+(?:kann\s+|muss\s+|soll\s+)?ich\b|\bhvordan\s+(?:kan\s+|skal\s+)?jeg\b
""")


def asks_to_do_it(text: str) -> bool:
    """Does ``text`` ask the bot (or the team) to make the change itself instead of explaining how?"""
    return bool(_DO_IT.search(text)) and not _HOW_DO_I.search(text)


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
                  "ipad", "app on my phone", "mobiltelefon", "galaxy", "samsung galaxy", "pixel", "google pixel",
                  "huawei", "xiaomi", "oneplus", "motorola"),
    "Web browser": ("browser", "browseren", "chrome", "firefox", "safari", "edge", "laptop", "computer", "pc", "mac",
                    "macbook", "web player", "website", "webseite", "hjemmeside"),
}
_NEGATION = re.compile(r"\b(not|nicht|kein|keine|ikke|no|statt|anstatt|instead\s+of|i\s+stedet\s+for)\s+"
                       r"(?:(?:on|in|at|auf|am|im|an|på|i|the|my|a|an|den|das|die|dem|der|ein|eine|einen|mein|meinem|"
                       r"meiner|min|mit|et|en)\s+){0,2}$", re.IGNORECASE)
# words of a device name that say more than the form's label (kept as the customer typed them)
_BRANDS = frozenset("""iphone ipad android samsung galaxy pixel google huawei xiaomi oneplus motorola lg sony philips
apple chrome firefox safari edge macbook mac""".split())


def negated(before: str) -> bool:
    """Does the text before a value negate it ("not 48213", "nicht die", "ikke en", "statt")?"""
    return _NEGATION.search(before) is not None


def device_mentions(text: str) -> list[tuple[str, str]]:
    """The devices the text names, in order: (the form's label, the words as typed), leaving out negated
    ones ("the TV, not the phone") and, where names overlap, keeping the longest ("Samsung Galaxy" is a
    phone, "Samsung" alone a TV)."""
    low = text.lower()
    spans: list[tuple[int, int, str]] = []
    for label, words in DEVICES.items():
        for word in words:
            spans += [(m.start(), m.end(), label)
                      for m in re.finditer(rf"(?<![\w-]){re.escape(word)}(?![\w-])", low)]
    kept: list[tuple[int, int, str]] = []
    for start, end, label in sorted(spans, key=lambda s: (s[0], s[0] - s[1])):
        if kept and start < kept[-1][1]:
            continue  # inside a longer name found first
        kept.append((start, end, label))
    return [(label, text[start:end]) for start, end, label in kept if not negated(low[:start])]


def devices_in(text: str) -> list[str]:
    """Device labels the text names, in order, leaving out negated ones ("the TV, not the phone")."""
    return list(dict.fromkeys(label for label, _words in device_mentions(text)))


def device_named(text: str) -> str | None:
    """The device the text is about, as specific as the customer was: the typed name when it names a brand
    or model ("Samsung Galaxy", "iPhone"), else the form's label ("Smart TV" for "the tv")."""
    mentions = device_mentions(text)
    if not mentions:
        return None
    label = mentions[0][0]
    named = [words for found, words in mentions if found == label and set(words.lower().split()) & _BRANDS]
    return max(named, key=len) if named else label


# participles: "versucht", "gefragt", "neu gestartet", "ausgetauscht", "aktualisiert", "angerufen"
_DE_DONE = r"(?:versucht|probiert|getan|\w{0,12}ge\w{2,20}(?:t|en)|\w{3,20}iert)"
_TRIED = re.compile(r"""
    (?:\b(?:i(?:'ve| have)?|we(?:'ve| have)?)\s+(?:already\s+)?tried\s+(?P<en>[^.!?;]{1,200}))
  | (?:\b(?:already|have)\s+(?P<en2>(?:restarted|reinstalled|rebooted|re-?paired|cleared|reset|updated|logged\s+out
        |asked|checked|contacted|called|replaced|changed)[^.!?;]*))
  | (?:\b(?:hab(?:e)?|haben)\s+(?:ich\s+|wir\s+)?(?:schon|bereits)\s+(?P<de>[^.!?;]{1,120}?)\s*(?P<de_v>""" + _DE_DONE + r""")\b)
  | (?:(?P<de3>\b[^.!?;,]{3,80}?)\s+(?:hab(?:e)?|haben)\s+(?:ich|wir)\s+(?:schon|bereits)\s+(?:\w+\s+)?(?P<de3_v>"""
    + _DE_DONE + r""")\b)
  | (?:\b(?:schon|bereits)\s+(?P<de2>(?:neu\s+gestartet|neu\s+installiert|neustart|aus-\s+und\s+eingeschaltet)[^.!?;]*))
  | (?:\b(?:har|jeg\s+har|vi\s+har)\s+(?:allerede\s+)?prøvet\s+(?P<da>[^.!?;]{1,200}))
  | (?:\b(?:allerede|har)\s+(?P<da2>(?:genstartet|geninstalleret|nulstillet|opdateret|spurgt|tjekket|kontaktet
        |ringet)[^.!?;]*))
""", re.IGNORECASE | re.VERBOSE)


def steps_tried_in(text: str) -> str | None:
    """What the customer says they already tried ("I already tried new batteries"), or None."""
    m = _TRIED.search(text)
    if not m:
        return None
    groups = m.groupdict()
    name = next(k for k, g in groups.items() if g and not k.endswith("_v"))
    found = groups[name].strip(" ,")
    if groups.get(f"{name}_v"):  # German puts the verb last: "die Nachbarn ... gefragt"
        found = f"{found} {groups[name + '_v']}"
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
