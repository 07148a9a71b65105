"""Rule-based declension of Russian toponyms, for the gazetteer generator.

The rules cover what ОКТМО names of the Volga federal district look like: feminine -а/-я nouns
(Пенза, Каменка, Исса), masculine consonant nouns (Кузнецк, Мокшан, Сердобск), -ь nouns of either
gender (Казань, Кондоль), -й nouns (Колышлей), neuter -о/-е nouns (Городище, Заволжье), the
possessive -ово/-ево/-ино names that speech mostly leaves undeclined (Башмаково, Лунино), plural
names (Ключи, Чебоксары, Набережные Челны), adjectival names (Белинский, Заречный, Никольское,
Нижний Ломов, Малая Сердоба) and hyphenated names (Йошкар-Ола, where only the last part declines).

Every form is lower-case with ё → е, the way the Rust resolver normalises text. A form may carry a
flag: "p" marks a form that also reads as a surname (Семенова, Кирова, Белинского), which the
resolver only accepts after a locative preposition or a type word.

Extra, slightly wrong forms are cheap (they never occur in text); missing forms cost coverage; forms
that are everyday words cost precision, so the generator marks such names rather than the rules
guessing here.
"""

from __future__ import annotations

CASES = ("nom", "gen", "dat", "acc", "ins", "loc")

VELAR_SIBILANT = set("гкхжшчщ")
SIBILANT = set("жшчщц")
VOWELS = set("аеёиоуыэюя")
ADJ_ENDINGS = ("ый", "ий", "ой", "ая", "яя", "ое", "ее", "ые", "ие")
# Possessive place names in -ово/-ино are usually left undeclined in speech («в Лунино»), and their
# declined genitive collides with surnames («Лунина»), so only the locative is generated, flagged.
INDECLINABLE_O = ("ово", "ево", "ёво", "ино", "ыно")


def norm(s: str) -> str:
    return s.lower().replace("ё", "е")


def is_adjective(word: str) -> bool:
    w = norm(word)
    if len(w) < 4 or not w.endswith(ADJ_ENDINGS):
        return False
    # -ей/-уй/-яй nouns (Колышлей) are excluded by ADJ_ENDINGS; -ие nouns are rare in toponyms
    # (Возрождение is -ие but long and a noun): treat -ние/-тие as nouns.
    if w.endswith(("ние", "тие", "вие", "лие")):
        return False
    # «Гидрострой»: a -строй compound is a noun («на Гидрострое»), not an -ой adjective.
    if w.endswith("строй"):
        return False
    return True


def _add(d: dict, case: str, *forms: str, flag: str = "") -> None:
    for f in forms:
        d.setdefault(case, [])
        if (f, flag) not in d[case]:
            d[case].append((f, flag))


def decline_noun(word: str, surname_like: bool = True) -> dict:
    """Case → [(form, flag)] for a single noun-like word (lower-case)."""
    w = norm(word)
    d: dict = {}
    _add(d, "nom", w)
    _add(d, "acc", w)
    if "-" in w:
        head, _, tail = w.rpartition("-")
        for case, forms in decline_noun(tail, surname_like).items():
            for f, fl in forms:
                _add(d, case, f"{head}-{f}", flag=fl)
        return d
    last = w[-1]
    if w.endswith("ия"):
        s = w[:-2]
        _add(d, "gen", s + "ии")
        _add(d, "dat", s + "ии")
        _add(d, "loc", s + "ии")
        _add(d, "acc", s + "ию")
        _add(d, "ins", s + "ией")
    elif last == "а":
        s = w[:-1]
        _add(d, "gen", s + ("и" if s[-1:] in VELAR_SIBILANT else "ы"))
        _add(d, "dat", s + "е")
        _add(d, "loc", s + "е")
        _add(d, "acc", s + "у")
        _add(d, "ins", s + "ой")
        if s[-1:] in SIBILANT:
            _add(d, "ins", s + "ей")
    elif last == "я":
        s = w[:-1]
        _add(d, "gen", s + "и")
        _add(d, "dat", s + "е")
        _add(d, "loc", s + "е")
        _add(d, "acc", s + "ю")
        _add(d, "ins", s + "ей")
    elif last == "ь":
        s = w[:-1]
        # Gender is not in the data: generate both paradigms (Казань f., Кондоль m.).
        _add(d, "gen", s + "и", s + "я")
        _add(d, "dat", s + "и", s + "ю")
        _add(d, "ins", s + "ью", s + "ем")
        _add(d, "loc", s + "и", s + "е")
    elif last == "й":
        s = w[:-1]
        _add(d, "gen", s + "я")
        _add(d, "dat", s + "ю")
        _add(d, "ins", s + "ем")
        _add(d, "loc", s + "е")
    elif w.endswith(INDECLINABLE_O):
        for c in CASES:
            _add(d, c, w)
        _add(d, "loc", w[:-1] + "е", flag="p")
    elif last == "о":
        s = w[:-1]
        _add(d, "gen", s + "а")
        _add(d, "dat", s + "у")
        _add(d, "ins", s + "ом")
        _add(d, "loc", s + "е")
    elif w.endswith(("ье", "ие")):
        s = w[:-1]
        _add(d, "gen", s + "я")
        _add(d, "dat", s + "ю")
        _add(d, "ins", s + "ем")
        _add(d, "loc", s + ("и" if w.endswith("ие") else "е"))
    elif last == "е":
        s = w[:-1]
        _add(d, "gen", s + "а")
        _add(d, "dat", s + "у")
        _add(d, "ins", s + "ем")
        _add(d, "loc", s + "е")
    elif last in "ыи":
        s = w[:-1]
        soft = s[-1:] in SIBILANT or last == "и" and s[-1:] not in "гкх"
        _add(d, "gen", s + ("ей" if soft else "ов"))
        if not soft:
            _add(d, "gen", s + "ей")
        # Zero genitive («из Чебоксар») reads as a bare word too often; only after a preposition.
        _add(d, "gen", s, flag="p")
        a = "я" if last == "и" and s[-1:] not in VELAR_SIBILANT else "а"
        _add(d, "dat", s + a + "м")
        _add(d, "ins", s + a + "ми")
        _add(d, "loc", s + a + "х")
    elif last in VOWELS:
        for c in CASES:
            _add(d, c, w)
    else:
        s = w
        # Fleeting vowel: Городец → Городца, Городок → Городка.
        if len(w) > 4 and w.endswith("ец") and w[-3] not in VOWELS:
            s = w[:-2] + "ц"
        elif len(w) > 4 and w.endswith("ок") and w[-3] not in VOWELS:
            s = w[:-2] + "к"
        flag = "p" if surname_like and len(w) > 4 and w.endswith(("ов", "ев", "ин", "ын")) else ""
        _add(d, "gen", s + "а", flag=flag)
        _add(d, "dat", s + "у", flag=flag)
        _add(d, "ins", s + ("ем" if s[-1] in SIBILANT else "ом"))
        _add(d, "loc", s + "е")
    return d


def decline_adjective(word: str) -> dict:
    """Case → [(form, "")] for an adjective in the gender/number of its nominative ending."""
    w = norm(word)
    d: dict = {}
    end, s = w[-2:], w[:-2]
    hard_i = s[-1:] in VELAR_SIBILANT  # -кий/-гий/-жий decline like hard stems with и
    sib = s[-1:] in SIBILANT or s[-1:] in "жшчщ"
    if end in ("ый", "ий", "ой"):
        soft = end == "ий" and not hard_i
        o = "е" if soft or (sib and end == "ий") else "о"
        y = "и" if end == "ий" or hard_i else "ы"
        _add(d, "nom", w)
        _add(d, "gen", s + o + "го")
        _add(d, "dat", s + o + "му")
        _add(d, "acc", w, s + o + "го")
        _add(d, "ins", s + y + "м")
        _add(d, "loc", s + o + "м")
    elif end in ("ая", "яя"):
        o = "е" if end == "яя" or sib else "о"
        _add(d, "nom", w)
        _add(d, "gen", s + o + "й")
        _add(d, "dat", s + o + "й")
        _add(d, "acc", s + ("юю" if end == "яя" else "ую"))
        _add(d, "ins", s + o + "й", s + o + "ю")
        _add(d, "loc", s + o + "й")
        if sib and end == "ая":
            # Stressed endings after sibilants are spelt -ой (Большая → Большой).
            for c in ("gen", "dat", "ins", "loc"):
                _add(d, c, s + "ой")
    elif end in ("ое", "ее"):
        o = "е" if end == "ее" else "о"
        y = "и" if end == "ее" or hard_i else "ы"
        _add(d, "nom", w)
        _add(d, "gen", s + o + "го")
        _add(d, "dat", s + o + "му")
        _add(d, "acc", w)
        _add(d, "ins", s + y + "м")
        _add(d, "loc", s + o + "м")
    elif end in ("ые", "ие"):
        y = end[0]
        _add(d, "nom", w)
        _add(d, "gen", s + y + "х")
        _add(d, "dat", s + y + "м")
        _add(d, "acc", w, s + y + "х")
        _add(d, "ins", s + y + "ми")
        _add(d, "loc", s + y + "х")
    else:
        for c in CASES:
            _add(d, c, w)
    return d


def adjective_all_forms(masc_nom: str) -> list[str]:
    """Every gender, number and case of an adjective given as masculine nominative (-ый/-ий/-ой)."""
    w = norm(masc_nom)
    s, end = w[:-2], w[-2:]
    hard_i = s[-1:] in VELAR_SIBILANT
    soft = end == "ий" and not hard_i
    forms: list[str] = []
    if soft:
        variants = [w, s + "яя", s + "ее", s + "ие"]
    else:
        y = "и" if hard_i else "ы"
        variants = [w, s + "ая", s + "ое", s + y + "е"]
    for v in variants:
        for fs in decline_adjective(v).values():
            for f, _ in fs:
                if f not in forms:
                    forms.append(f)
    return forms


def toponym_forms(name: str) -> list[tuple[str, str]]:
    """All case forms of a (possibly multi-word or hyphenated) toponym, with flags.

    Words agree in case: an adjective before a noun takes the noun's case («в Нижнем Ломове»). A word
    that is neither adjective nor the head noun (a numeral suffix «1-я», an invariant first part of
    «Жукова Поляна») stays as it is.
    """
    words = norm(name).split()
    if not words:
        return []
    # An abbreviation in capitals («ГПЗ», «ГПЗ-24») does not decline.
    if name.split("-")[0].isupper():
        return [(norm(name), "")]
    # The head is the last word that is not a trailing ordinal like «1-я».
    head = len(words) - 1
    while head > 0 and words[head][:1].isdigit():
        head -= 1
    per_word: list[dict] = []
    for i, w in enumerate(words):
        if i > head:
            per_word.append({c: [(w, "")] for c in CASES})
        elif is_adjective(w) and (i < head or len(words) == 1 or head > 0):
            per_word.append(decline_adjective(w))
        elif i == head:
            # Surname-like flags only matter for single-word names; «Нижний Ломов» is safe.
            per_word.append(decline_noun(w, surname_like=len(words) == 1))
        else:
            per_word.append({c: [(w, "")] for c in CASES})
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for c in CASES:
        combos: list[tuple[str, str]] = [("", "")]
        for pw in per_word:
            opts = pw.get(c) or pw["nom"]
            combos = [
                ((a + " " + f).strip(), fa or fl) for a, fa in combos for f, fl in opts
            ]
        for f, fl in combos:
            if f in seen:
                continue
            seen.add(f)
            out.append((f, fl))
    # Multi-word adjectival names with an undeclined head («в Большом Кирдяшево» is the spoken form
    # of an -ово head anyway), nothing extra to do.
    return out
