"""The names of the days and months in the languages small controllers translate into most.

A 1.5B controller translating "moved to Thursday" into French wrote "mercredi" (Wednesday):
Qwen2.5-Coder-1.5B gets such closed-class words wrong often enough to change what a message
means. ``note`` names the right words in the request to translate, so the model need not
recall them. Measured with ``scripts/bench_calendar_words.py`` (2 threads): without the note
6 of 8 and 9 of 12 sentences had every day and month name right, with it 8 of 8 and 12 of 12
(the 12 written before the note was tried on them); one of the 12 was then left partly in
English ("School starts again in septembre, le lundi"), none without the note.
"""

from __future__ import annotations

import re

from ..text import language_asked

ENGLISH = ("monday tuesday wednesday thursday friday saturday sunday "
           "january february march april may june july august september october november december").split()
# the same order as ENGLISH: seven days, then twelve months
NAMES = {
    "french": "lundi mardi mercredi jeudi vendredi samedi dimanche janvier février mars avril mai juin juillet "
              "août septembre octobre novembre décembre",
    "spanish": "lunes martes miércoles jueves viernes sábado domingo enero febrero marzo abril mayo junio julio "
               "agosto septiembre octubre noviembre diciembre",
    "german": "Montag Dienstag Mittwoch Donnerstag Freitag Samstag Sonntag Januar Februar März April Mai Juni Juli "
              "August September Oktober November Dezember",
    "italian": "lunedì martedì mercoledì giovedì venerdì sabato domenica gennaio febbraio marzo aprile maggio "
               "giugno luglio agosto settembre ottobre novembre dicembre",
    "portuguese": "segunda-feira terça-feira quarta-feira quinta-feira sexta-feira sábado domingo janeiro fevereiro "
                  "março abril maio junho julho agosto setembro outubro novembro dezembro",
    "dutch": "maandag dinsdag woensdag donderdag vrijdag zaterdag zondag januari februari maart april mei juni "
             "juli augustus september oktober november december",
}
WORD_RE = re.compile(r"\b(" + "|".join(ENGLISH) + r")\b", re.IGNORECASE)
# "may" is a month only where a date says so ("in May", "May 3", "3 May"), not "you may go"
MAY_MONTH = re.compile(r"\b(?:in|of|early|late|mid|since|until|by)\s+may\b|\bmay\s+\d"
                       r"|\d(?:st|nd|rd|th)?\s+(?:of\s+)?may\b", re.IGNORECASE)


def target_language(request: str) -> str | None:
    """The language of ``NAMES`` the request asks for ("… to French", "in german please";
    ``text.language_asked``), None when it asks for another or none ("it's all in French" names
    the text's own language)."""
    asked = language_asked(request)
    return asked if asked in NAMES else None


def note(text: str, request: str) -> str:
    """'Thursday is "jeudi" in French' for each day or month name in ``text``, when the request
    asks for a language of ``NAMES``; '' otherwise."""
    language = target_language(request)
    if language is None:
        return ""
    names = dict(zip(ENGLISH, NAMES[language].split()))
    seen: list[str] = []
    for match in WORD_RE.finditer(str(text)):
        word = match.group(1).lower()
        if word == "may" and not MAY_MONTH.search(str(text)):
            continue
        if word not in seen:
            seen.append(word)
    return ", ".join(f'{w.capitalize()} is "{names[w]}"' for w in seen) + f" in {language.capitalize()}" if seen else ""
