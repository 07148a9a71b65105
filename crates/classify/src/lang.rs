//! Language of a post.
//!
//! Feeds of Russian regions are overwhelmingly Russian; the other languages that plausibly appear
//! are Ukrainian and Belarusian, the Volga republics' languages (Tatar, Bashkir, Chuvash, Mari,
//! Udmurt) and, in Latin script, English and the languages of labour migrants (Uzbek, Azerbaijani,
//! Turkish). Short posts defeat statistical detection, so letters that only some alphabets have
//! decide first, and whatlang — restricted to the plausible set — is asked only when the letters
//! leave a real choice. A Cyrillic post with no letter outside the Russian alphabet is Russian.

use serde::Serialize;
use whatlang::{Detector, Lang};

/// The answer and how it was reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LanguageGuess {
    /// ISO 639-1 where one exists (`ru`, `uk`, `tt`…), else ISO 639-3 (`chm`, `udm`), or `und`.
    pub code: &'static str,
    pub method: &'static str,
}

/// Detects languages; build once, it holds whatlang detectors.
pub struct LanguageDetector {
    east_slavic: Detector,
    latin: Detector,
}

impl Default for LanguageDetector {
    fn default() -> Self {
        LanguageDetector {
            east_slavic: Detector::with_allowlist(vec![Lang::Rus, Lang::Ukr, Lang::Bel]),
            latin: Detector::with_allowlist(vec![Lang::Eng, Lang::Deu, Lang::Fra, Lang::Uzb, Lang::Aze, Lang::Tur]),
        }
    }
}

fn iso1(lang: Lang) -> &'static str {
    match lang {
        Lang::Rus => "ru",
        Lang::Ukr => "uk",
        Lang::Bel => "be",
        Lang::Eng => "en",
        Lang::Deu => "de",
        Lang::Fra => "fr",
        Lang::Uzb => "uz",
        Lang::Aze => "az",
        Lang::Tur => "tr",
        _ => "und",
    }
}

/// Letters counted by alphabet: the totals, and the letters only some alphabets have.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Letters {
    cyr: usize,
    lat: usize,
    /// Ukrainian ї/є/ґ.
    uk: usize,
    /// Belarusian ў.
    be_u: usize,
    /// Russian ы/э/ъ.
    ru_only: usize,
    /// і, Ukrainian and Belarusian.
    i_dotted: usize,
    /// The Volga republics' letters: Tatar, Bashkir, Chuvash, Mari, Udmurt, Kazakh.
    tt: usize,
    ba: usize,
    cv: usize,
    chm: usize,
    udm: usize,
    kk: usize,
}

impl Letters {
    /// Counts the letters of `text`. A Russian post is ASCII and two-byte basic Cyrillic, which
    /// are counted in one pass over the whole text that the compiler vectorises, without a branch
    /// per byte; only the 32-byte blocks holding some other character are then read character by
    /// character, and a text with extended Cyrillic (ї, і, ў…) is read whole so.
    fn of(text: &str) -> Letters {
        let bytes = text.as_bytes();
        // One pass over every byte and the one after it, without a branch, so that it
        // vectorises: ASCII letters, basic Russian letters (А..Я, а..п are D0 90..BF; р..я are
        // D1 80..8F, ё is D1 91), ъ/ы/э among them, and the rest of D0/D1, extended Cyrillic.
        let (mut lat, mut cyr, mut ru_only, mut extended) = (0u32, 0u32, 0u32, 0u32);
        let (leads, nexts) = (&bytes[..bytes.len().saturating_sub(1)], bytes.get(1..).unwrap_or_default());
        for (&a, &b) in leads.iter().zip(nexts) {
            let (d0, d1) = (a == 0xD0, a == 0xD1);
            lat += u32::from(a.is_ascii_alphabetic());
            cyr += u32::from(d0 & (b >= 0x90) | d1 & ((b <= 0x8F) | (b == 0x91)));
            ru_only += u32::from(
                d0 & ((b == 0xAA) | (b == 0xAB) | (b == 0xAD)) | d1 & ((b == 0x8A) | (b == 0x8B) | (b == 0x8D)),
            );
            extended += u32::from(d0 & (b < 0x90) | d1 & (b >= 0x90) & (b != 0x91));
        }
        if extended > 0 {
            return Letters::read(text);
        }
        lat += bytes.last().map_or(0, |b| u32::from(b.is_ascii_alphabetic()));
        let mut letters =
            Letters { lat: lat as usize, cyr: cyr as usize, ru_only: ru_only as usize, ..Letters::default() };
        // Any other character starts with a byte from C2 up, other than D0 and D1.
        let other = |b: &u8| (*b >= 0xC2) & (*b != 0xD0) & (*b != 0xD1);
        for (block, chunk) in bytes.chunks(32).enumerate() {
            if chunk.iter().fold(false, |any, b| any | other(b)) {
                let from = block * 32;
                for i in (from..from + chunk.len()).filter(|&i| other(&bytes[i])) {
                    letters.add_other(text[i..].chars().next().unwrap_or('\0'));
                }
            }
        }
        letters
    }

    /// The letters of `text` read character by character.
    fn read(text: &str) -> Letters {
        let mut letters = Letters::default();
        for c in text.chars() {
            match c {
                c if c.is_ascii() => letters.lat += usize::from(c.is_ascii_alphabetic()),
                'А'..='я' | 'ё' => {
                    letters.cyr += 1;
                    letters.ru_only += usize::from(matches!(c, 'ы' | 'э' | 'ъ' | 'Ы' | 'Э' | 'Ъ'));
                }
                c => letters.add_other(c),
            }
        }
        letters
    }

    /// A character neither ASCII nor basic Russian.
    fn add_other(&mut self, c: char) {
        if !(('\u{0410}'..='\u{044F}').contains(&c) || c.is_alphabetic()) {
            return;
        }
        if matches!(c, '\u{0400}'..='\u{052F}') {
            self.cyr += 1;
        } else if (c as u32) < 0x0250 {
            self.lat += 1;
        }
        // Upper-case letters of interest are folded cheaply; only the extended Cyrillic blocks
        // need the Unicode tables.
        let lower = match c {
            'Ѐ'..='Џ' => char::from_u32(c as u32 + 0x50).unwrap_or(c),
            'ѐ'..='џ' => c,
            _ => c.to_lowercase().next().unwrap_or(c),
        };
        match lower {
            'ї' | 'є' | 'ґ' => self.uk += 1,
            'ў' => self.be_u += 1,
            'і' => self.i_dotted += 1,
            'җ' => self.tt += 2,
            'ә' | 'ө' | 'ү' | 'ң' | 'һ' => self.tt += 1,
            'ҙ' | 'ҫ' | 'ҡ' | 'ғ' => self.ba += 1,
            'ӑ' | 'ӗ' | 'ӳ' => self.cv += 1,
            'ӹ' | 'ӓ' => self.chm += 2,
            'ӧ' | 'ӱ' => self.chm += 1,
            'ӝ' | 'ӟ' | 'ӥ' | 'ӵ' => self.udm += 1,
            'ұ' | 'қ' => self.kk += 1,
            _ => {}
        }
    }
}

impl LanguageDetector {
    pub fn detect(&self, text: &str) -> LanguageGuess {
        let guess = |code, method| LanguageGuess { code, method };
        let Letters { cyr, lat, uk, be_u, ru_only, i_dotted, tt, ba, cv, chm, udm, kk } = Letters::of(text);
        if cyr == 0 && lat == 0 {
            return guess("und", "no letters");
        }
        if cyr >= lat {
            // Turkic and Finno-Ugric alphabets of the Volga: their extra letters are decisive.
            let volga = [(tt, "tt"), (ba, "ba"), (cv, "cv"), (chm, "chm"), (udm, "udm"), (kk, "kk")];
            if let Some(&(n, code)) = volga.iter().max_by_key(|(n, _)| *n) {
                if n >= 2 || (n >= 1 && cyr < 40) {
                    // ҫ is both Bashkir and Chuvash; ӑ/ӗ settle it.
                    return guess(code, "letters of its alphabet");
                }
            }
            if be_u > 0 {
                return guess("be", "letter ў");
            }
            if uk > 0 && ru_only == 0 {
                return guess("uk", "letters ї/є/ґ");
            }
            if i_dotted > 0 && ru_only == 0 {
                return guess("uk", "letter і without ы/э/ъ");
            }
            if i_dotted == 0 && uk == 0 {
                return guess("ru", "Russian alphabet only");
            }
            // A mix: Ukrainian or Belarusian with stray Russian letters, or Russian with a
            // stray «і». Let the statistics decide among the three.
            return match self.east_slavic.detect(text) {
                Some(info) => guess(iso1(info.lang()), "whatlang (ru/uk/be)"),
                None => guess("ru", "mixed letters, Russian by default"),
            };
        }
        match self.latin.detect(text) {
            Some(info) if info.is_reliable() => guess(iso1(info.lang()), "whatlang (Latin script)"),
            Some(info) if lat >= 20 => guess(iso1(info.lang()), "whatlang (Latin script, unreliable)"),
            _ => guess("und", "too little Latin text to tell"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The letters counted one character at a time, the way `Letters::of` must count them.
    fn counted_one_by_one(text: &str) -> Letters {
        Letters::read(text)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn the_fast_count_is_the_count(
            text in proptest::collection::vec(
                prop::sample::select(vec![
                    "а", "Ы", "ё", "Ё", "я", "р", "ъ", "э", " ", ".", "7", "a", "Z", "é", "ß", "«", "»", "—",
                    "…", "№", "🔥", "👍", "ї", "і", "ў", "ґ", "є", "Ѐ", "җ", "ә", "ӑ", "ӹ", "ӝ", "қ", "ҫ", "ǆ",
                    "Ω", "中", "\u{0301}", "\n",
                ]),
                0..120,
            ).prop_map(|parts| parts.concat())
        ) {
            prop_assert_eq!(Letters::of(&text), counted_one_by_one(&text));
        }
    }

    #[test]
    fn long_russian_text_with_an_odd_character_per_block() {
        let text = "Третий день нет горячей воды «в доме» — дети мёрзнут 🥶 ".repeat(20);
        assert_eq!(Letters::of(&text), counted_one_by_one(&text));
        let ukrainian = format!("{text} Немає гарячої води");
        assert_eq!(Letters::of(&ukrainian), counted_one_by_one(&ukrainian));
    }

    fn code(text: &str) -> &'static str {
        LanguageDetector::default().detect(text).code
    }

    #[test]
    fn letters_decide_east_slavic_languages() {
        assert_eq!(code("Третий день нет горячей воды"), "ru");
        assert_eq!(code("Немає гарячої води вже третій день"), "uk");
        assert_eq!(code("Няма гарачай вады ўжо тры дні"), "be");
        // A stray Ukrainian і in a Russian sentence does not make it Ukrainian.
        assert_eq!(code("Вы знаете, что в подъезде сегодня опять нет света, это просто безобразие і позор"), "ru");
    }

    #[test]
    fn volga_languages_by_their_letters() {
        assert_eq!(code("Җылыту юк, өйдә салкын"), "tt");
        assert_eq!(code("Ҫутӑ ҫук, пӳртре сивӗ"), "cv");
    }

    #[test]
    fn latin_and_letterless_texts() {
        assert_eq!(code("There has been no hot water in our building for three days now"), "en");
        assert_eq!(code("123 !!! 🔥"), "und");
        assert_eq!(code(""), "und");
    }
}
