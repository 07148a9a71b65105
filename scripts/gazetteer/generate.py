#!/usr/bin/env python3
"""Compile otklik's municipality gazetteer from public ОКТМО data.

    python3 scripts/gazetteer/generate.py [--data DIR] [--out FILE] [--region 56]

Reads the re-shaped ОКТМО CSVs (see ../shared/data/gazetteer/SOURCES.md) and writes one
tab-separated file that crates/classify/src/gazetteer loads. Standard library only, deterministic
output (same input → byte-identical file), so CI can check the committed file is current.

What goes in:
  * the home region (`--region`, Penza oblast = 56 by default) in full: its municipal districts and
    urban okrugs, every inhabited locality mapped to its district/okrug; for Penza also the 4
    internal districts of Penza city, some of its micro-districts, old and informal names
    (OLD_NAMES, each with its source), what residents of its towns call themselves (DEMONYMS, read
    like the town's adjective) and the initials residents shorten names to («Н.Ломов», «М.Сердоба»);
  * the other regions of the Volga federal district at district and town level (municipal
    districts, urban okrugs, localities of type г / пгт / рп);
  * for every urban okrug whose city has an adjective («пензенский», «кузнецкий»), that adjective:
    next to a body only a city has («пензенская мэрия», «кузнецкая гордума») it names the city;
  * every case form of every name (declension.py), district adjectives in all forms, region names,
    and the grammar words the resolver needs (type words, «район», street words, prepositions).

The hflabs city list (CC BY-SA 4.0) is deliberately not used: ОКТМО already lists every town with its
type, and keeping the shipped file free of share-alike data keeps its licence simple.

File format (UTF-8, one record per line, fields separated by TAB, lists inside a field by «|»;
a form ending in «^» is accepted only after a locative preposition or type word):
  V  version
  R  region_code  name  adjective_forms  standalone_name_forms
  M  oktmo  region_code  kind(district|okrug)  display_name  adjective_forms
  C  oktmo  display_name  adjective_forms                  (Penza city's internal districts)
  A  oktmo  adjective_forms                                (an urban okrug's city adjective)
  P  id  oktmo  region_code  class  salient  strength  name  forms
       class: town | urban | rural | mkr;  strength: s(trong) | c(ommon word) | p(erson) | t(yped)
  W  word_class  forms        word_class: type:town | type:urban | type:rural | type:any |
                              type:mkr | district | region | street | institution | prep |
                              citybody | near
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from declension import adjective_all_forms, is_adjective, norm, toponym_forms  # noqa: E402

FORMAT_VERSION = "otklik-gazetteer/1"
PENZA = "56"

# Names that are also everyday words: the resolver wants a type word, a capital letter mid-sentence
# or a locative preposition with a capital («в Каменке») before it believes them. Adjective-shaped
# names (Лесной, Октябрьский, Заречный) are added automatically.
COMMON_WORDS = {
    "Каменка", "Заря", "Бор", "Гай", "Мир", "Победа", "Восход", "Рассвет", "Дружба", "Свобода",
    "Труд", "Искра", "Нива", "Горки", "Поляна", "Роща", "Дубрава", "Березняк", "Займище", "Кордон",
    "Гусятник", "Громок", "Журчалка", "Согласие", "Исса", "Майна", "Отрада", "Малиновка",
    "Вишняки", "Перелески",
    "Междуречье", "Приволье", "Раздолье", "Белогорье", "Краснополье", "Заволжье", "Усолье",
    "Лебяжье", "Станция", "Пустынь", "Мача", "Кукарки", "Вьюнки", "Гранки", "Камайка", "Соседка",
    "Ночка", "Сухановка", "Песчанка", "Ржавка",
    # A case form that is an everyday word: «выше» (Выша), «туже» (Тужа); «хутор» is a type word.
    "Выша", "Тужа", "Хутор",
}
# Names that read as something else far more often than as the village (a river, a foreign city, a
# brand, a date, an object): only with a type word («с. Сура»).
TYPED_ONLY = {
    "Крым", "Сумы", "Истамбул", "Черкассы", "Александрия", "София", "Архангельск", "Сура", "Хопер",
    "Первое Мая", "Десятый Октябрь", "Парижская Коммуна", "Дом Отдыха", "Детский Санаторий",
    "Первое Отделение", "Второе Отделение", "Третье Отделение", "Троицкое Отделение",
    "Черенцовское Отделение", "Плодосовхоз", "Сахзавод", "Спиртзавод", "Стеклозавод",
    "Госсортучасток", "Лесозавод", "Коммуна", "Прогресс", "Радуга", "Маяк", "Пионер", "Колос",
    "Луч", "Рубеж", "План", "Подвал", "Котел", "Часы", "Точка", "Гаи", "Марат", "Середа", "Шарова",
    "Турки", "Новая Жизнь", "Новый Путь", "Светлый Путь", "Красное Знамя", "Красная Звезда",
    "Октябрь", "Обвал", "Затон", "Удалая", "Труженик", "Трудовик", "Ударник", "Батрак", "Борец",
    "Водолей", "Ворона", "Мошки", "Кучки", "Скачки", "Поселки", "Камыш", "Ива", "Ера", "Паны",
    "Клены", "Стрижи", "Свеча", "Бисер", "Медведка", "Мураши", "Перевоз", "Промысла", "Цемзавод",
    "Гидроторф", "Стройкерамика", "Уни", "Оса", "Луза", "Пижма", "Арья", "Теша", "Смычка",
    "Росток", "Устье", "Ров", "Родники", "Истоки", "Ключи", "Возрождение", "Сатис", "Нема", "Суна",
    "Виля", "Кера", "Ега", "Маис", "Рамзай", "Пеньки", "Журавли", "Дубки", "Бугры", "Городок",
    "Дворики", "Новая Заря", "Рабочий Уголок", "Красный Восток", "Красная Новь", "Новостройка",
    "Красное Поле", "Веселая", "Веселый", "Пешая", "Подсот", "Сурки", "Симанки", "Чудная",
    "Казарка", "Соколка", "Секретарка", "Часы", "Котел", "Режа", "Ляча", "Тешнярь", "Кучки",
    "Лопатки", "Домики", "Сенной", "Горный", "Восточный", "Центральный", "Свободный", "Ясный",
    "Мирный", "Лесной", "Степной", "Полевой", "Южный", "Средний", "Крутой", "Майский", "Дачный",
    "Школьный", "Заводской", "Ягодный", "Дружный", "Вольный", "Красный", "Новое", "Красное",
    "Высокое", "Круглое", "Лесное", "Луговое", "Садовое", "Садовая", "Луговая", "Луговой",
    "Степное", "Чистое", "Ровное", "Советский", "Советское", "Октябрьский", "Октябрьское",
    "Октябрьская", "Первомайский", "Первомайская", "Комсомольский", "Приволжский", "Уральский",
    "Волжский", "Каменский", "Павловский", "Ильинский", "Центральная Усадьба", "Гремячево",
    "Зеленодольское", "Мокрый", "Горелый", "Вислый", "Волчий", "Плодовый", "Корневой", "Подлесный",
    "Подгорный", "Решительный", "Пролетарский", "Потравный", "Средняя", "Отрадный", "Светлый",
    "Скальный", "Рудничный", "Силикатный", "Пушкино",
}
# Town names whose forms are a famous person's name; the genitive «Белинского» is far more often
# «музей Белинского» than the town. Only after a locative preposition or a type word. (Names like
# «Лермонтово», «Чаадаевка» do not collide: their forms are not the surname's, and the declined
# locative «Лермонтове» is flagged by declension.py anyway.)
PERSON_NAMES = {
    "Белинский", "Чайковский", "Маркс", "Энгельс", "Пугачев", "Джалиль",
}

# Penza city's internal districts (ОКАТО, not ОКТМО), mapped to the city okrug.
PENZA_CITY = "56701000"
PENZA_CITY_DISTRICTS = ["Железнодорожный", "Ленинский", "Октябрьский", "Первомайский"]
# Micro-districts inside the Penza urban okrug, only ones known to lie within the city limits.
PENZA_MICRODISTRICTS = [
    ("Арбеково", "s"), ("Терновка", "s"), ("Ахуны", "s"), ("Веселовка", "s"), ("Шуист", "s"),
    ("Южная Поляна", "s"), ("Западная Поляна", "s"), ("Гидрострой", "s"), ("Кривозерье", "s"),
    ("Побочино", "s"), ("Заря", "c"), ("Согласие", "c"),
    # Named after the bearing plant (ГПЗ-24) in the Железнодорожный district (1pnz.ru, «В пензенском
    # микрорайоне ГПЗ-24 появится новая школа»); Барковка, by the Русеевский quarry, is being renamed
    # Прибрежный (penzainform.ru, 2025-09-15).
    ("ГПЗ-24", "s"), ("ГПЗ", "s"), ("Барковка", "s"),
]

# Old and informal names of Penza oblast's places, each resolved to the place it names today:
# (name, district/okrug ОКТМО, class, strength, source). Residents and local news still use them.
OLD_NAMES = [
    ("Чембар", "56612000", "town", "s", "Белинский: the town's name until 1948 (ru.wikipedia «Белинский (город)»)"),
    ("Беднодемьяновск", "56606000", "town", "s", "Спасск: the town's name 1925–2005 (ru.wikipedia «Спасск (Пензенская область)»)"),
    ("Керенск", "56615000", "rural", "p", "Вадинск: the village's name until 1944 (ru.wikipedia «Вадинск»)"),
    ("Пенза-19", "56734000", "town", "s", "Заречный: the closed city's code name (ru.wikipedia «Заречный (Пензенская область)»)"),
    ("Тарханы", "56612000", "rural", "s", "Лермонтово, Lermontov's estate-museum «Тарханы» (ru.wikipedia «Лермонтово (Пензенская область)»)"),
    ("Аблязово", "56640000", "rural", "s", "Радищево, formerly Верхнее Аблязово, Radishchev's estate (ru.wikipedia «Радищево (Кузнецкий район)»)"),
    ("Никольская Пестровка", "56653000", "town", "s", "Никольск: the town's name until 1954 (ru.wikipedia «Никольск (Пензенская область)»)"),
    ("Ломов", "56651000", "town", "p", "Нижний Ломов as residents shorten it («в Ломове»; tests/fixtures/incidents)"),
]
# Old district adjectives: (adjective, district ОКТМО, source).
OLD_DISTRICT_ADJECTIVES = [
    ("Чембарский", "56612000", "Белинский район was Чембарский until 1948"),
    ("Беднодемьяновский", "56606000", "Спасский район was Беднодемьяновский until 2005"),
]
# What residents of a Penza oblast town call themselves, read like the town's adjective: alone
# («кузнечане жалуются», like «кузнецкие дорожники») they name the town when nothing else does.
# (singular, ОКТМО of the okrug or district, source); the forms follow from the singular's ending.
DEMONYMS = [
    ("пензенец", "56701000", "ru.wikipedia «Пенза», катойконим: пензенец, пензенцы"),
    ("пензяк", "56701000", "the informal name, as local news use it (progorod58.ru, 2013: «живут 26 пензяков»)"),
    ("кузнечанин", "56705000", "ru.wikipedia «Кузнецк», катойконим: кузнечанин, кузнечане"),
    ("зареченец", "56734000", "ru.wikipedia «Заречный (Пензенская область)», катойконим: зареченец, зареченка"),
    ("сердобчанин", "56656000", "ru.wikipedia «Сердобск», катойконим: сердобчанин, сердобчане, сердобчанка"),
    ("ломовчанин", "56651000", "ru.wikipedia «Нижний Ломов», названия жителей: нижнеломовцы, нижнеломовец, ломовчане"),
    ("нижнеломовец", "56651000", "ru.wikipedia «Нижний Ломов», названия жителей: нижнеломовцы, нижнеломовец, ломовчане"),
    ("никольчанин", "56653000", "ru.wikipedia «Никольск (Пензенская область)», катойконим: никольчане, никольчанин, никольчанка"),
    ("каменец", "56629000", "ru.wikipedia «Каменка (город, Россия)», катойконим: каменец, каменцы"),
]

# A name's first word that residents shorten to its initial («Н.Ломов», «М-Сердоба», «Б.Вьяс»),
# by its stem. «Верхний» is left out: its «в.» is too close to the preposition «в», and «Старый»:
# «с.» and «ст.» already mean «село» and «станция».
ABBREVIATED_WORDS = {"нижн": "н", "нов": "н", "мал": "м", "больш": "б"}
# Extra prefixes for one name: «Н Ломов», without a dot, is common enough to be meant.
ABBREVIATED_EXTRA = {"Нижний Ломов": ["н"]}

REGIONS = {
    # code: (nominative, adjective (masc) or "", standalone names)
    "80": ("Республика Башкортостан", "", ["Башкортостан", "Башкирия"]),
    "88": ("Республика Марий Эл", "", ["Марий Эл"]),
    "89": ("Республика Мордовия", "", ["Мордовия"]),
    "92": ("Республика Татарстан", "", ["Татарстан", "Татария"]),
    "94": ("Удмуртская Республика", "Удмуртский", ["Удмуртия"]),
    "97": ("Чувашская Республика", "Чувашский", ["Чувашия"]),
    "57": ("Пермский край", "Пермский", ["Прикамье"]),
    "33": ("Кировская область", "Кировский", []),
    "22": ("Нижегородская область", "Нижегородский", []),
    "53": ("Оренбургская область", "Оренбургский", ["Оренбуржье"]),
    "56": ("Пензенская область", "Пензенский", []),
    "36": ("Самарская область", "Самарский", []),
    "63": ("Саратовская область", "Саратовский", []),
    "73": ("Ульяновская область", "Ульяновский", []),
}


def decl_word(word: str, endings: list[str]) -> list[str]:
    return [word + e for e in endings]


GRAMMAR = {
    "type:town": ["г", "г.", "гор.", "город", "города", "городе", "городу", "городом", "городок",
                  "городка", "городке"],
    "type:urban": ["пгт", "пгт.", "п.г.т.", "рп", "р.п.", "р/п", "рп.",
                   "рабочий поселок", "рабочего поселка", "рабочем поселке", "рабочему поселку",
                   "рабочим поселком", "поселок городского типа", "поселка городского типа",
                   "поселке городского типа"],
    "type:any": ["п.", "пос.", "пос", "пос-к", "поселок", "поселка", "поселке", "поселку",
                 "поселком", "поселочек"],
    "type:rural": ["с.", "с.п.", "село", "села", "селе", "селу", "селом", "сельцо", "д.", "дер.",
                   "дер", "деревня", "деревни", "деревне", "деревню", "деревней", "деревушка",
                   "деревушке", "х.", "хут.", "хутор", "хутора", "хуторе", "ст.", "станция",
                   "станции", "нп", "н.п.", "населенный пункт", "населенного пункта",
                   "населенном пункте", "с/с", "сельсовет", "сельсовета"],
    "type:mkr": ["мкр", "мкр.", "мкрн", "мкрн.", "мкр-н", "м-н", "микрорайон", "микрорайона",
                 "микрорайоне", "микрорайону", "микрорайоном", "микр."],
    "district": ["район", "района", "району", "районом", "районе", "районы", "районов", "районам",
                 "районах", "р-н", "р-на", "р-ну", "р-ном", "р-не", "р-он", "р-она", "р-оне",
                 "р-н.", "рн", "р-н,", "мр", "м.р.", "муниципальный район", "муниципального района",
                 "муниципальному району", "муниципальным районом", "муниципальном районе",
                 "районная", "районной", "районную", "районный", "районного", "районном",
                 "районному", "районные", "районных", "црб", "цгб"],
    "region": ["область", "области", "областью", "обл", "обл.", "край", "края", "краю", "краем",
               "крае", "республика", "республики", "республике", "республику", "республикой",
               "респ", "респ.",
               # The region's own bodies: «пензенская областная дума» is the region, not the city.
               "областная", "областной", "областную", "областные", "областных", "областного",
               "областном", "областному", "областным", "облдума", "облдумы", "облдуме",
               "региональная", "региональный", "региональной", "региональные", "региональных"],
    "street": ["ул", "ул.", "улица", "улицы", "улице", "улицу", "улицей", "пр.", "пр-т", "пр-кт",
               "просп.", "проспект", "проспекта", "проспекте", "проспекту", "пер.", "переулок",
               "переулка", "переулке", "пл.", "площадь", "площади", "бульвар", "бульвара",
               "бульваре", "б-р", "шоссе", "наб.", "набережная", "набережной", "проезд",
               "проезда", "проезде", "тупик", "им.", "им", "имени",
               # «трасса Пенза — Тамбов» is a road between places, not a place.
               "трасса", "трассы", "трассе", "трассу", "автодорога", "автодороги", "автодороге",
               "автодорогу"],
    # Before a name that is also a word or a person («музей Белинского», «ЖК Радуга»,
    # «кинотеатр Заря») these make it not a place; strong names («школы Пензы») are unaffected.
    "institution": ["музей", "музея", "музее", "памятник", "памятника", "библиотека",
                    "библиотеки", "библиотеке", "школа", "школы", "школе", "гимназия", "гимназии",
                    "театр", "театра", "кинотеатр", "кинотеатра", "тц", "трц", "жк", "ск", "сквер",
                    "сквере", "парк", "парке", "фк", "хк", "фильм", "книга", "книги", "поэт",
                    "поэта", "писатель", "писателя", "критик", "критика", "семья", "семьи",
                    "магазин", "магазина", "магазине", "кафе", "ресторан", "ресторане", "клуб",
                    "клуба", "клубе", "компания", "компании", "ооо", "зао", "пао", "ао", "ип",
                    "санаторий", "санатория", "санатории", "лагерь", "лагеря", "лагере", "дк",
                    "отель", "гостиница", "гостинице", "бренд", "марки", "команда", "команды"],
    # Locative prepositions: before a capitalised name they make a common word a place
    # («в Каменке»), before a person-like name they make it a town («в Белинском»).
    # After a city's adjective these make it the city («пензенская мэрия», «кузнецкая гордума»):
    # a municipal district has none of them.
    "citybody": ["мэрия", "мэрии", "мэрию", "мэрией", "мэр", "мэра", "мэру", "мэром", "мэре",
                 "гордума", "гордумы", "гордуме", "гордуму", "гордумой", "горсовет", "горсовета",
                 "горсовете", "горсовету", "горадминистрация", "горадминистрации",
                 "горадминистрацию", "городская", "городской", "городскую", "городские",
                 "городских", "городским", "городское", "городского", "городскому", "городском"],
    # Before a city's name these say near it, not in it («под Пензой», «в пригороде Кузнецка»).
    "near": ["под", "около", "возле", "близ", "вблизи", "окрестностях", "окрестности",
             "пригороде", "пригородах", "пригород", "пригороды", "рядом с", "недалеко от",
             "неподалеку от", "невдалеке от", "в округе"],
    "prep": ["в", "во", "из", "до", "под", "около", "возле", "близ", "из-под", "окрестностях",
             "окрестности", "жители", "жителям", "жителей", "житель", "жительница"],
}


def read_csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def clean(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def district_adjective(name: str) -> str | None:
    base = clean(name).split(" муниципальный")[0].strip()
    if " " in base or not is_adjective(base):
        return None
    return base


def okrug_display(name: str, center: str) -> str:
    name = clean(name)
    if name.startswith(("город", "ЗАТО")):
        return name
    if is_adjective(name):
        return f"{name} городской округ"
    return f"город {name}"


def name_strength(name: str) -> str:
    if name in TYPED_ONLY:
        return "t"
    if name in PERSON_NAMES:
        return "p"
    if name in COMMON_WORDS:
        return "c"
    words = name.split()
    if len(words) == 1 and "-" not in name and is_adjective(name):
        return "c"
    # Two- and three-letter names (Уфа, Гай) are too likely to be syllables or abbreviations
    # unless capitalised.
    if len(name) <= 3:
        return "c"
    return "s"


# -ов towns that are nobody's famous surname: their genitive «Саратова» is just the town.
SURNAME_SAFE = {"Саратов", "Саров", "Ардатов", "Кадом", "Сергач"}


def forms_field(name: str) -> str:
    out = []
    for form, flag in toponym_forms(name):
        if name in SURNAME_SAFE:
            flag = ""
        out.append(form + ("^" if flag == "p" else ""))
    return "|".join(out)


def old_name_forms(name: str) -> str:
    """Forms of an old or informal name; «Пенза-19» declines its first part only."""
    base, dash, tail = name.partition("-")
    if dash and tail.isdigit():
        return "|".join(f"{form}-{tail}" for form, _ in toponym_forms(base))
    return forms_field(name)


def abbreviated_forms(name: str) -> list[str]:
    """«Н.Ломов», «Н-Ломове», «М.Сердоба»: the first word's initial before the forms of the rest,
    for a two-word name whose first word is one of ABBREVIATED_WORDS."""
    words = norm(name).split(" ")
    initial = next((i for stem, i in ABBREVIATED_WORDS.items() if words[0].startswith(stem)), None)
    if len(words) != 2 or initial is None:
        return []
    prefixes = [f"{initial}.", f"{initial} -", *ABBREVIATED_EXTRA.get(name, [])]
    last = [f.split(" ")[-1] for f, _ in toponym_forms(name)]
    return [f"{p} {w}" for p in prefixes for w in dict.fromkeys(last)]


def demonym_forms(oktmo: str, home: str) -> list[str]:
    """The case forms of DEMONYMS naming the okrug or district `oktmo` (Penza oblast's, so only
    when it is the home region): «-ец» and «-ак» nouns decline as masculine nouns do, «-анин» ones
    lose «-ин» in the plural and have a feminine («кузнечанка»)."""
    out = []
    for singular, code, _source in DEMONYMS if home == PENZA else []:
        if code != oktmo:
            continue
        if singular.endswith("анин"):
            stem = singular[:-2]
            out += [singular, *(singular + e for e in ["а", "у", "ом", "е"])]
            out += [stem + e for e in ["е", "", "ам", "ами", "ах"]]
            out += [stem + "к" + e for e in ["а", "и", "е", "у", "ой", "ам", "ами", "ах"]]
        elif singular.endswith("ец"):
            stem = singular[:-2] + "ц"
            out += [singular, *(stem + e for e in ["а", "у", "ем", "е", "ы", "ев", "ам", "ами", "ах"])]
        else:
            out += [singular, *(singular + e for e in ["а", "у", "ом", "е", "и", "ов", "ам", "ами", "ах"])]
    return out


def city_adjectives(munis: list[dict], known: dict[str, dict], home: str) -> list[str]:
    """`A` records: an urban okrug's city adjective, found as the adjective itself («Заречный») or as
    the adjective of a district of its region that starts with the city's stem («Пенза» →
    «пензенский», «Кузнецк» → «кузнецкий»)."""
    adjectives: dict[str, list[str]] = {}
    for m in munis:
        if m["kind"] == "municipal_district" and m["oktmo"] in known:
            adj = district_adjective(m["name"])
            if adj:
                adjectives.setdefault(m["region_code"], []).append(adj)
    out = []
    for oktmo, m in known.items():
        if m["kind"] != "urban_okrug":
            continue
        city = re.sub(r"^(ЗАТО )?(город|г\.?) ", "", clean(m["name"]))
        if " " in city or "-" in city:
            continue
        if is_adjective(city):
            adj = city
        else:
            stem = norm(city)[:-1] if norm(city)[-1] in "аяоеиы" else norm(city)
            found = [a for a in adjectives.get(m["region_code"], []) if len(stem) >= 4 and "-" not in a and norm(a).startswith(stem)]
            if len(found) != 1:
                continue
            adj = found[0]
        out.append(f"A\t{oktmo}\t" + "|".join([*adjective_all_forms(adj), *demonym_forms(oktmo, home)]))
    return out


def settlement_class(t: str) -> str:
    if t == "г":
        return "town"
    if t in ("пгт", "рп"):
        return "urban"
    return "rural"


def usable_name(name: str) -> str | None:
    name = clean(name.replace('"', ""))
    # «Центральная усадьба свх …», «им Степана Разина»: nobody writes these in posts.
    if not name or "свх" in name or name.startswith("им "):
        return None
    if name.startswith("ст "):
        name = name[3:]
    if re.search(r"[^А-Яа-яЁё0-9 \-]", name):
        return None
    return name


def main() -> int:
    here = Path(__file__).resolve().parent
    root = here.parent.parent
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=root.parent / "shared/data/gazetteer")
    ap.add_argument("--out", type=Path, default=root / "config/gazetteer/gazetteer.tsv")
    ap.add_argument("--region", default=PENZA, help="two-digit ОКТМО code of the region listed in full")
    args = ap.parse_args()
    home = args.region
    if home not in REGIONS:
        ap.error(f"--region {home}: not a region of the Volga federal district ({', '.join(REGIONS)})")

    munis = read_csv(args.data / "oktmo_pfo_municipalities.csv")
    setts = read_csv(args.data / "oktmo_pfo_settlements.csv")

    lines: list[str] = [
        "# otklik municipality gazetteer — GENERATED by scripts/gazetteer/generate.py, do not edit.",
        "# Source: ОКТМО ОК 033-2013 vol. 5 (ПФО), see config/gazetteer/SOURCES.md.",
        f"# Region listed in full: {home} ({REGIONS[home][0]}).",
        f"V\t{FORMAT_VERSION}",
    ]
    for code, (nom, adj, names) in REGIONS.items():
        adj_forms = "|".join(adjective_all_forms(adj)) if adj else ""
        name_forms = "|".join(f for n in names for f, _ in toponym_forms(n))
        lines.append(f"R\t{code}\t{nom}\t{adj_forms}\t{name_forms}")

    known_munis: dict[str, dict] = {}
    centers: dict[str, tuple[str, str]] = {}
    for m in munis:
        kind = m["kind"]
        if kind not in ("municipal_district", "urban_okrug"):
            continue
        oktmo, region = m["oktmo"], m["region_code"]
        if kind == "municipal_district":
            adj = district_adjective(m["name"])
            if adj is None:
                continue  # group headers mis-tagged as districts in the Perm rows
            display = f"{adj} район"
            olds = [a for a, o, _ in OLD_DISTRICT_ADJECTIVES if o == oktmo and region == home]
            adj_forms = "|".join([*(f for a in [adj, *olds] for f in adjective_all_forms(a)), *demonym_forms(oktmo, home)])
            lines.append(f"M\t{oktmo}\t{region}\tdistrict\t{display}\t{adj_forms}")
        else:
            display = okrug_display(m["name"], m["admin_center"])
            lines.append(f"M\t{oktmo}\t{region}\tokrug\t{display}\t")
        known_munis[oktmo] = m
        center = clean(m["admin_center"])
        if " " in center:
            t, _, n = center.partition(" ")
            centers[oktmo] = (t, n)

    lines.extend(city_adjectives(munis, known_munis, home))
    for adj in PENZA_CITY_DISTRICTS if home == PENZA else []:
        lines.append(
            f"C\t{PENZA_CITY}\t{adj} район г. Пензы\t" + "|".join(adjective_all_forms(adj))
        )

    place_id = 0
    seen: set[tuple[str, str, str]] = set()
    for s in setts:
        region = s["region_code"]
        cls = settlement_class(s["type"])
        if region != home and cls == "rural":
            continue
        name = usable_name(s["name"])
        if name is None:
            continue
        oktmo = s["district_oktmo"] or s["mo_oktmo"]
        if oktmo not in known_munis:
            continue
        key = (name, oktmo, cls)
        if key in seen:
            continue  # same name twice in one district adds nothing for resolution
        seen.add(key)
        center = centers.get(oktmo)
        salient = cls != "rural" or (center is not None and center[1] == name)
        place_id += 1
        lines.append(
            f"P\t{place_id}\t{oktmo}\t{region}\t{cls}\t{int(salient)}\t{name_strength(name)}\t"
            f"{name}\t" + "|".join([forms_field(name), *abbreviated_forms(name)])
        )
    for name, strength in PENZA_MICRODISTRICTS if home == PENZA else []:
        place_id += 1
        lines.append(
            f"P\t{place_id}\t{PENZA_CITY}\t{PENZA}\tmkr\t1\t{strength}\t{name}\t{forms_field(name)}"
        )
    for name, oktmo, cls, strength, _source in OLD_NAMES if home == PENZA else []:
        place_id += 1
        lines.append(f"P\t{place_id}\t{oktmo}\t{PENZA}\t{cls}\t1\t{strength}\t{name}\t{old_name_forms(name)}")

    for cls, words in GRAMMAR.items():
        lines.append(f"W\t{cls}\t" + "|".join(norm(w) for w in words))

    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    digest = hashlib.sha256(text.encode()).hexdigest()
    n_forms = sum(len(l.split("\t")[-1].split("|")) for l in lines if l[:2] in ("P\t", "M\t", "C\t"))
    print(
        f"wrote {args.out} ({len(text.encode())} bytes, sha256 {digest[:16]}): "
        f"{len(known_munis)} municipalities, {place_id} places, {n_forms} name forms",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
