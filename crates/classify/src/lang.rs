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

impl LanguageDetector {
    pub fn detect(&self, text: &str) -> LanguageGuess {
        let guess = |code, method| LanguageGuess { code, method };
        let (mut cyr, mut lat) = (0usize, 0usize);
        // Letters of one alphabet only.
        let (mut uk, mut be_u, mut ru_only, mut i_dotted) = (0, 0, 0, 0);
        let (mut tt, mut ba, mut cv, mut chm, mut udm, mut kk) = (0, 0, 0, 0, 0, 0);
        // Bytes, not chars: Russian text is ASCII and two-byte basic Cyrillic, whose letters are
        // counted here without decoding; any other character takes the general path below.
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b < 0x80 {
                lat += b.is_ascii_alphabetic() as usize;
                i += 1;
                continue;
            }
            // А..Я, а..п are D0 90..BF; р..я are D1 80..8F, ё is D1 91.
            if let Some(&n) = bytes.get(i + 1) {
                if b == 0xD0 && n >= 0x90 {
                    cyr += 1;
                    ru_only += matches!(n, 0xAA | 0xAB | 0xAD) as usize;
                    i += 2;
                    continue;
                }
                if b == 0xD1 && (n <= 0x8F || n == 0x91) {
                    cyr += 1;
                    ru_only += matches!(n, 0x8A | 0x8B | 0x8D) as usize;
                    i += 2;
                    continue;
                }
            }
            let c = text[i..].chars().next().unwrap_or('\0');
            i += c.len_utf8();
            if !(('\u{0410}'..='\u{044F}').contains(&c) || c.is_alphabetic()) {
                continue;
            }
            if matches!(c, '\u{0400}'..='\u{052F}') {
                cyr += 1;
                // Russian-only letters are counted before the shortcut below skips them.
                if matches!(c, 'ы' | 'э' | 'ъ' | 'Ы' | 'Э' | 'Ъ') {
                    ru_only += 1;
                    continue;
                }
            } else if (c as u32) < 0x0250 {
                lat += 1;
            }
            // Upper-case letters of interest are folded cheaply; only the extended Cyrillic
            // blocks need the Unicode tables.
            let lower = match c {
                'Ѐ'..='Џ' => char::from_u32(c as u32 + 0x50).unwrap_or(c),
                'А'..='я' | 'ё' => continue,
                'ѐ'..='џ' => c,
                _ => c.to_lowercase().next().unwrap_or(c),
            };
            match lower {
                'ї' | 'є' | 'ґ' => uk += 1,
                'ў' => be_u += 1,
                'і' => i_dotted += 1,
                'җ' => tt += 2,
                'ә' | 'ө' | 'ү' | 'ң' | 'һ' => tt += 1,
                'ҙ' | 'ҫ' | 'ҡ' | 'ғ' => ba += 1,
                'ӑ' | 'ӗ' | 'ӳ' => cv += 1,
                'ӹ' | 'ӓ' => chm += 2,
                'ӧ' | 'ӱ' => chm += 1,
                'ӝ' | 'ӟ' | 'ӥ' | 'ӵ' => udm += 1,
                'ұ' | 'қ' => kk += 1,
                _ => {}
            }
        }
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
