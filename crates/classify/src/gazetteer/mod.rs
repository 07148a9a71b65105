//! The compiled ОКТМО gazetteer and municipality resolution from post text.
//!
//! The gazetteer file (`config/gazetteer/gazetteer.tsv`) is produced by
//! `scripts/gazetteer/generate.py` from public ОКТМО data; it already holds every case form of every
//! name, so nothing here knows Russian morphology. [`Gazetteer::load`] compiles all forms, type
//! words («г.», «с.», «пгт»), district nouns («район», «р-н»), region nouns and street words into a
//! single leftmost-longest Aho–Corasick automaton; [`Gazetteer::resolve`] makes one pass of it over
//! the normalised text ([`normalize`]) and then reasons only about the handful of matches.
//!
//! Resolution rules (a wrong municipality is worse than none), in [`resolve`]:
//! - a name that is also an everyday word («Каменка», «Заря», «Лесной») counts only with a type word,
//!   a capital letter mid-sentence, or a locative preposition and a capital («в Каменке»);
//!   a name that is also a person («Белинский») only with a type word or preposition; names that are
//!   mostly something else (rivers, foreign cities, brands) only with a type word;
//! - a name found in several districts («Сосновка») needs a second clue — a district named anywhere
//!   in the text, a district adjective, or another place that settles on one district — otherwise a
//!   town, urban settlement or district centre among the candidates wins; failing both, it is left out;
//! - the home region (Penza oblast unless [`Gazetteer::with_home_region`] says otherwise) is preferred
//!   over other regions unless the text names another region, but a home village never beats
//!   another region's town of the same name; a name with a qualifier of its own («Никольск-Уссурийский»)
//!   is another place ([`Resolution::elsewhere`]);
//! - a city named as what a place is near («под Пензой», «в пригороде Кузнецка») is not the place,
//!   but the district around it is a second clue for a village named there («под Пензой в
//!   Засечном»: the Засечное of Пензенский район, not Мокшанский's); a city's adjective before a
//!   body only a city has («пензенская мэрия») is the city;
//! - mentions that settle on different municipalities conflict, and the result is none — unless
//!   all but one are where the writer comes from («из X в Y», «сам я из X») or one is set against
//!   the others («в X уже дали, а в Y нет», «живу в X, а в Y…»): then that one is the problem's place;
//! - a capitalised word after a locative preposition, or any word before «район», that is one
//!   letter away from a home-region name («Кузнецкк», «белинскии район») is read as that name;
//! - in a text written all in lower case, capitals say nothing: a locative preposition is enough
//!   for a town or district centre whose name is also a word or a person («в каменке», «в белинском»);
//! - mentions that settle on different municipalities conflict, and the result is none;
//! - only the first [`MAX_MENTIONS`] names of a text are considered ([`Resolution::capped`] says so).
//!
//! [`Gazetteer::place_detail`] (in `place`) adds what lies below the municipality: settlement,
//! street and house, landmark — the place key of incident linking.

mod normalize;
mod place;
mod resolve;
mod typo;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind, StartKind};
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;

pub use place::{stem, street_detail, PlaceDetail};
pub use resolve::{Mention, MentionKind, RejectReason, Rejected, Resolution, MAX_MENTIONS};

/// The region listed in full when none is configured: Penza oblast.
pub const DEFAULT_REGION: &str = "56";

/// The gazetteer file format this loader understands (the `V` record).
pub const FORMAT_VERSION: &str = "otklik-gazetteer/1";

/// The largest gazetteer file loaded (the shipped one is ~0.5 MiB): a wrong path fails at once.
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// Why a gazetteer could not be loaded. Parse errors name the file, the 1-based line and what was
/// expected, never the line's text: a wrong path (`/etc/passwd`) must not be echoed into logs.
#[derive(Debug, thiserror::Error)]
pub enum GazetteerError {
    #[error("cannot read gazetteer {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("gazetteer {path} is larger than {limit} bytes: not a gazetteer file?")]
    TooLarge { path: String, limit: u64 },
    #[error("{file}:{line}: {message}")]
    Parse { file: String, line: usize, message: String },
    #[error("{file}: cannot build the name automaton: {message}")]
    Build { file: String, message: String },
    #[error("region {code} is not in the gazetteer (regenerate it: scripts/gazetteer/generate.py --region {code})")]
    UnknownRegion { code: String },
}

/// Whether an ОКТМО municipality is a municipal district or an urban okrug.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MunicipalityKind {
    District,
    UrbanOkrug,
}

/// A municipal formation a post can be attributed to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Municipality {
    /// 8-digit ОКТМО code.
    pub oktmo: String,
    /// Display name: «Сердобский район», «город Пенза».
    pub name: String,
    /// Two-digit ОКТМО region code («56» is Penza oblast).
    pub region_code: String,
    pub kind: MunicipalityKind,
}

/// Which kind of locality a place is, as far as type words are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlaceClass {
    /// г.
    Town,
    /// пгт / рп
    Urban,
    /// с., д., п., х., ст. …
    Rural,
    /// A micro-district of a city.
    Microdistrict,
}

/// How much context a name needs before it is believed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Strength {
    /// Unambiguous as a word: «Пенза», «Сердобск».
    Strong,
    /// Also an everyday word: «Каменка», «Заря».
    Common,
    /// Also a person: «Белинский»; or a declined form that reads as a surname: «Семенова».
    Person,
    /// Mostly something else: a river, a foreign city, a brand.
    TypedOnly,
}

#[derive(Debug, Clone)]
pub(crate) struct Place {
    pub name: String,
    pub muni: u32,
    pub class: PlaceClass,
    /// A town, urban settlement, micro-district or district centre: what people usually mean.
    pub salient: bool,
    pub strength: Strength,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TypeWord {
    Town,
    Urban,
    Rural,
    /// «п.», «поселок»: urban or rural.
    Settlement,
    Microdistrict,
}

/// What one matched surface can mean; a surface often means several things at once
/// («белинского»: the town and the district adjective).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Meaning {
    /// A form of a place name; `needs_prep` marks a form that reads as a surname.
    Place {
        place: u32,
        needs_prep: bool,
    },
    /// A form of a municipal district's adjective («сердобского»).
    DistrictAdj {
        muni: u32,
    },
    /// A form of a city-internal district's adjective («октябрьском» [районе г. Пензы]).
    CityDistrictAdj {
        muni: u32,
    },
    /// A form of an urban okrug's city adjective («пензенская» [мэрия]).
    CityAdj {
        muni: u32,
    },
    /// A form of a region's adjective («пензенской» [области]).
    RegionAdj {
        region: u16,
    },
    /// A region's own name («Мордовия»).
    RegionName {
        region: u16,
    },
    Type(TypeWord),
    DistrictNoun,
    RegionNoun,
    Street,
    Institution,
    /// A body only a city has: «мэрия», «гордума», «городская» [администрация].
    CityBody,
    /// «под», «около», «в пригороде»: what follows is what a place is near.
    Near,
}

#[derive(Debug, Clone)]
pub(crate) struct Region {
    pub code: String,
    pub name: String,
}

/// The compiled gazetteer. Immutable after loading; share it between threads.
pub struct Gazetteer {
    version: String,
    automaton: AhoCorasick,
    /// Which word starts can begin a match at all (see [`StartFilter`]).
    starts: StartFilter,
    /// For pattern `i`, its meanings are `meanings[spans[i].0 .. spans[i].1]`.
    spans: Vec<(u32, u32)>,
    meanings: Vec<Meaning>,
    municipalities: Vec<Municipality>,
    by_oktmo: HashMap<String, u32>,
    places: Vec<Place>,
    regions: Vec<Region>,
    /// Encoded, without spaces.
    prepositions: Vec<Vec<u8>>,
    /// The pattern keys, by pattern id (the typo index is rebuilt from them for another region).
    keys: Vec<Vec<u8>>,
    /// The region listed in full, preferred over the others.
    home: String,
    /// One-letter typos of the home region's names ([`typo`]).
    typos: typo::TypoIndex,
    /// (city's urban okrug, the district around it): the district whose adjective is the city's
    /// («пензенский»: г. Пенза and Пензенский район), where a place «под Пензой» lies.
    surrounding: Vec<(u32, u32)>,
}

impl std::fmt::Debug for Gazetteer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gazetteer")
            .field("version", &self.version)
            .field("municipalities", &self.municipalities.len())
            .field("places", &self.places.len())
            .field("patterns", &self.spans.len())
            .finish()
    }
}

/// Sizes of a loaded gazetteer, for notes and `--explain`.
#[derive(Debug, Clone, Serialize)]
pub struct GazetteerStats {
    pub municipalities: usize,
    pub places: usize,
    pub patterns: usize,
    pub automaton_bytes: usize,
}

impl Gazetteer {
    /// Reads and compiles a gazetteer file.
    pub fn load(path: &Path) -> Result<Gazetteer, GazetteerError> {
        use crate::config::ReadFailure;
        let file = path.display().to_string();
        let text = crate::config::read_capped(path, MAX_FILE_BYTES).map_err(|e| match e {
            ReadFailure::Io(source) => GazetteerError::Io { path: file.clone(), source },
            ReadFailure::TooLarge(limit) => GazetteerError::TooLarge { path: file.clone(), limit },
            ReadFailure::NotUtf8 { line } => {
                GazetteerError::Parse { file: file.clone(), line, message: "not valid UTF-8".into() }
            }
        })?;
        Self::parse(&text, &file)
    }

    /// Compiles a gazetteer from its text (errors name the file as `<string>`).
    #[allow(clippy::should_implement_trait)]
    pub fn from_str(text: &str) -> Result<Gazetteer, GazetteerError> {
        Self::parse(text, "<string>")
    }

    /// The municipality with this 8-digit ОКТМО code, e.g. for a source binding's display name.
    pub fn municipality(&self, oktmo: &str) -> Option<&Municipality> {
        self.by_oktmo.get(oktmo).map(|&i| &self.municipalities[i as usize])
    }

    /// The district around city `city` (an urban okrug), if one shares its adjective.
    pub(crate) fn surrounding_district(&self, city: u32) -> Option<u32> {
        self.surrounding.iter().find(|&&(c, _)| c == city).map(|&(_, d)| d)
    }

    /// The nominative name of a region by its two-digit code («56» → «Пензенская область»).
    pub fn region_name(&self, code: &str) -> Option<&str> {
        self.regions.iter().find(|r| r.code == code).map(|r| r.name.as_str())
    }

    /// The same gazetteer with `code` as its home region (the one preferred and listed in full).
    pub fn with_home_region(mut self, code: &str) -> Result<Gazetteer, GazetteerError> {
        if self.region_name(code).is_none() {
            return Err(GazetteerError::UnknownRegion { code: code.to_string() });
        }
        if code != self.home {
            self.home = code.to_string();
            self.typos = typo::TypoIndex::build(&self);
        }
        Ok(self)
    }

    /// The home region's two-digit code.
    pub fn home_region(&self) -> &str {
        &self.home
    }

    /// Words that name the home region (its adjective in every form, its own names, its capital's
    /// name): a text holding one is about the home region whatever else it names.
    pub fn home_words(&self) -> Vec<String> {
        let region = |m: &Meaning| match *m {
            Meaning::RegionAdj { region } | Meaning::RegionName { region } => {
                self.regions[region as usize].code == self.home
            }
            _ => false,
        };
        // The capital is the city whose name starts like the region's adjective («Пенза»,
        // «пензенская»); other cities' names («Кузнецк») have namesakes in other regions.
        let regional = self.keys.iter().zip(0..).find(|&(_, p)| self.meanings_of(p).iter().any(region));
        let Some((stem, _)) = regional else { return Vec::new() };
        let stem = &stem[..stem.len().min(5)];
        let mut out: Vec<String> = Vec::new();
        for (key, pattern) in self.keys.iter().zip(0..) {
            let home = self.meanings_of(pattern).iter().any(|m| match *m {
                Meaning::Place { place, needs_prep: false } => {
                    let p = &self.places[place as usize];
                    let m = &self.municipalities[p.muni as usize];
                    let okrug = p.class == PlaceClass::Town && m.kind == MunicipalityKind::UrbanOkrug;
                    okrug && m.region_code == self.home && key.starts_with(stem)
                }
                _ => region(m),
            });
            if home && !key[1..].contains(&b' ') {
                out.push(normalize::decode(&key[1..]));
            }
        }
        out
    }

    /// The names other regions go by alone, in every form, one word each («мордовия»,
    /// «башкирии», «татарстане»): the other-region check reads them like a region's adjective
    /// with «область».
    pub fn other_region_names(&self) -> Vec<String> {
        let other = |m: &Meaning| matches!(*m, Meaning::RegionName { region } if self.regions[region as usize].code != self.home);
        self.keys
            .iter()
            .zip(0..)
            .filter(|&(key, pattern)| !key[1..].contains(&b' ') && self.meanings_of(pattern).iter().any(other))
            .map(|(key, _)| normalize::decode(&key[1..]))
            .collect()
    }

    /// Every municipality in file order.
    pub fn municipalities(&self) -> &[Municipality] {
        &self.municipalities
    }

    /// The `V` record of the file, for the classifier version string.
    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn stats(&self) -> GazetteerStats {
        GazetteerStats {
            municipalities: self.municipalities.len(),
            places: self.places.len(),
            patterns: self.spans.len(),
            automaton_bytes: self.automaton.memory_usage() + self.starts.memory_usage(),
        }
    }

    /// Finds the municipality the text names, if it names exactly one unambiguously.
    pub fn resolve(&self, original_text: &str) -> Resolution {
        resolve::resolve(self, original_text)
    }

    fn parse(text: &str, file: &str) -> Result<Gazetteer, GazetteerError> {
        let mut b = Builder::default();
        for (n, line) in text.lines().enumerate() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            // The version record comes first: any other file fails on its first line.
            let result = if b.version.is_empty() { b.version_line(line) } else { b.line(line) };
            result.map_err(|message| GazetteerError::Parse { file: file.to_string(), line: n + 1, message })?;
        }
        if b.version.is_empty() {
            return Err(GazetteerError::Parse {
                file: file.to_string(),
                line: 1,
                message: "no V (version) record".into(),
            });
        }
        if b.prepositions.is_empty() || !b.patterns.keys().any(|_| true) {
            return Err(GazetteerError::Parse {
                file: file.to_string(),
                line: text.lines().count().max(1),
                message: "no names or no grammar words (W prep …) in the file".into(),
            });
        }
        b.finish(file)
    }
}

/// An exact negative test for «can a counting match, or one reaching past this word, start at
/// this space?», from the bytes after it.
///
/// Every pattern starts with a space, so a match can only start at a space of the normalised text.
/// Most words of a post begin no pattern at all; these hashed sets rule them out from their first
/// bytes before the automaton is asked (an anchored search at the survivors gives exactly the
/// matches of one leftmost-longest pass over the whole text). A pattern shorter than
/// [`PREFIX_LEN`] bytes that is followed by more letters fails the right-boundary check and ends
/// inside the word, so skipping it changes nothing — unless it holds a space, when it would have
/// carried the search past the next word start.
pub(crate) struct StartFilter {
    /// Whole short patterns (after the space) without a space inside: count only at a word end.
    bounded: Vec<u64>,
    /// Whole short patterns with a space inside: count anywhere.
    spaced: Vec<u64>,
    /// The first [`PREFIX_LEN`] bytes of longer patterns.
    prefix: Vec<u64>,
    /// Exact: the first two bytes of every pattern of two or more bytes, and (`one`) the single
    /// byte of one-byte patterns. Rules out most words before any hashing.
    first_two: Vec<u64>,
    one: Vec<u64>,
}

const PREFIX_LEN: usize = 5;
const FILTER_BITS: u32 = 17;

#[inline]
fn bit(set: &[u64], i: usize) -> bool {
    set[i >> 6] & (1 << (i & 63)) != 0
}

/// Hash of `bytes` extended by `b` (the running hash of a prefix).
#[inline]
fn mix(h: u32, b: u8) -> u32 {
    (h ^ b as u32).wrapping_mul(0x0100_0193)
}

#[inline]
fn slot(h: u32) -> usize {
    (h.wrapping_mul(0x9E37_79B1) >> (32 - FILTER_BITS)) as usize
}

impl StartFilter {
    fn build(keys: &[Vec<u8>]) -> StartFilter {
        let words = (1usize << FILTER_BITS) / 64;
        let mut f = StartFilter {
            bounded: vec![0; words],
            spaced: vec![0; words],
            prefix: vec![0; words],
            first_two: vec![0; 65536 / 64],
            one: vec![0; 256 / 64],
        };
        let set = |v: &mut Vec<u64>, i: usize| v[i >> 6] |= 1 << (i & 63);
        for k in keys {
            let rest = &k[1..];
            if rest.is_empty() {
                continue;
            }
            if rest.len() == 1 {
                set(&mut f.one, rest[0] as usize);
            } else {
                set(&mut f.first_two, (rest[0] as usize) << 8 | rest[1] as usize);
            }
            let n = rest.len().min(PREFIX_LEN);
            let h = slot(rest[..n].iter().fold(0x811c_9dc5, |h, &b| mix(h, b)));
            if rest.len() >= PREFIX_LEN {
                set(&mut f.prefix, h);
            } else if rest.contains(&b' ') {
                set(&mut f.spaced, h);
            } else {
                set(&mut f.bounded, h);
            }
        }
        f
    }

    /// Whether a match that counts, or one that reaches past this word, may start at `text[at]`
    /// (a space).
    #[inline]
    pub(crate) fn may_start(&self, text: &[u8], at: usize) -> bool {
        let rest = &text[at + 1..];
        if let [a, b, ..] = *rest {
            if !bit(&self.first_two, (a as usize) << 8 | b as usize) && !bit(&self.one, a as usize) {
                return false;
            }
        }
        let mut h = 0x811c_9dc5u32;
        for (i, &b) in rest.iter().take(PREFIX_LEN).enumerate() {
            h = mix(h, b);
            let s = slot(h);
            if i + 1 == PREFIX_LEN {
                return bit(&self.prefix, s);
            }
            if bit(&self.spaced, s) {
                return true;
            }
            if bit(&self.bounded, s) && (matches!(rest.get(i + 1), None | Some(b' ' | b'.')) || b == b'.') {
                return true;
            }
        }
        false
    }

    fn memory_usage(&self) -> usize {
        (self.bounded.len() + self.spaced.len() + self.prefix.len() + self.first_two.len() + self.one.len()) * 8
    }
}

#[derive(Default)]
struct Builder {
    version: String,
    patterns: HashMap<Vec<u8>, Vec<Meaning>>,
    municipalities: Vec<Municipality>,
    by_oktmo: HashMap<String, u32>,
    places: Vec<Place>,
    place_ids: HashMap<String, u32>,
    regions: Vec<Region>,
    region_index: HashMap<String, u16>,
    prepositions: Vec<Vec<u8>>,
}

fn field<'a>(fields: &[&'a str], i: usize, what: &str) -> Result<&'a str, String> {
    fields.get(i).copied().ok_or_else(|| format!("missing field {} ({what})", i + 1))
}

/// The fields each record type needs (its type letter included); trailing ones may be empty.
const RECORD_FIELDS: [(&str, usize); 7] = [("V", 2), ("R", 3), ("M", 5), ("C", 4), ("A", 3), ("P", 9), ("W", 3)];

/// Splits a record and checks its type and field count. Messages never quote the line.
fn record(line: &str) -> Result<Vec<&str>, String> {
    let f: Vec<&str> = line.split('\t').collect();
    let Some(&(kind, needed)) = RECORD_FIELDS.iter().find(|(k, _)| *k == f[0]) else {
        return Err(format!(
            "expected a record type (V, R, M, C, A, P or W) and tab-separated fields, found {} field{}",
            f.len(),
            if f.len() == 1 { "" } else { "s" }
        ));
    };
    if f.len() < needed {
        return Err(format!("expected {needed} tab-separated fields in a {kind} record, found {}", f.len()));
    }
    Ok(f)
}

fn forms(list: &str) -> impl Iterator<Item = &str> {
    list.split('|').map(str::trim).filter(|f| !f.is_empty())
}

fn check_oktmo(code: &str) -> Result<(), String> {
    if code.len() == 8 && code.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err("expected an 8-digit ОКТМО code".into())
    }
}

impl Builder {
    fn add(&mut self, form: &str, meaning: Meaning) {
        let mut key = normalize::encode(form);
        while key.len() > 1 && key.last() == Some(&b' ') {
            key.pop();
        }
        if key.len() <= 1 {
            return;
        }
        let v = self.patterns.entry(key).or_default();
        if !v.contains(&meaning) {
            v.push(meaning);
        }
    }

    fn muni(&self, oktmo: &str) -> Result<u32, String> {
        check_oktmo(oktmo)?;
        self.by_oktmo
            .get(oktmo)
            .copied()
            .ok_or_else(|| format!("unknown municipality {oktmo} (its M record must come first)"))
    }

    /// The first record: `V` and the format this build reads.
    fn version_line(&mut self, line: &str) -> Result<(), String> {
        let f = record(line)?;
        if f[0] != "V" {
            return Err(format!("expected the version record first (V, a tab, {FORMAT_VERSION})"));
        }
        self.line(line)
    }

    fn line(&mut self, line: &str) -> Result<(), String> {
        let f = record(line)?;
        match f[0] {
            "V" => self.version_record(&f),
            "R" => self.region_record(&f),
            "M" => self.municipality_record(&f),
            "C" => self.city_district_record(&f),
            "A" => self.city_adjective_record(&f),
            "P" => self.place_record(&f),
            "W" => self.word_record(&f),
            // record() lets only the types above through.
            _ => Err("expected a record type (V, R, M, C, A, P or W)".into()),
        }
    }

    fn version_record(&mut self, f: &[&str]) -> Result<(), String> {
        if field(f, 1, "version")? != FORMAT_VERSION {
            return Err(format!("expected format {FORMAT_VERSION} (a gazetteer of another format or version)"));
        }
        self.version = FORMAT_VERSION.to_string();
        Ok(())
    }

    /// `R code name adjectives names`: a region, with the adjectives and names that mean it.
    fn region_record(&mut self, f: &[&str]) -> Result<(), String> {
        let code = field(f, 1, "region code")?;
        if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err("field 2: expected a two-digit region code".into());
        }
        let idx = u16::try_from(self.regions.len()).map_err(|_| "too many regions".to_string())?;
        self.regions.push(Region { code: code.into(), name: field(f, 2, "name")?.into() });
        self.region_index.insert(code.into(), idx);
        for form in forms(f.get(3).copied().unwrap_or("")) {
            self.add(form, Meaning::RegionAdj { region: idx });
        }
        for form in forms(f.get(4).copied().unwrap_or("")) {
            self.add(form, Meaning::RegionName { region: idx });
        }
        Ok(())
    }

    /// `M oktmo region kind name adjectives`: a municipal district or urban okrug.
    fn municipality_record(&mut self, f: &[&str]) -> Result<(), String> {
        let oktmo = field(f, 1, "oktmo")?;
        check_oktmo(oktmo)?;
        let region = field(f, 2, "region code")?;
        if !self.region_index.contains_key(region) {
            return Err("field 3: unknown region code (its R record must come first)".into());
        }
        let kind = match field(f, 3, "kind")? {
            "district" => MunicipalityKind::District,
            "okrug" => MunicipalityKind::UrbanOkrug,
            _ => return Err("field 4: expected the kind district or okrug".into()),
        };
        if self.by_oktmo.contains_key(oktmo) {
            return Err(format!("municipality {oktmo} listed twice"));
        }
        let idx = self.municipalities.len() as u32;
        let name = field(f, 4, "name")?.into();
        self.municipalities.push(Municipality { oktmo: oktmo.into(), name, region_code: region.into(), kind });
        self.by_oktmo.insert(oktmo.into(), idx);
        for form in forms(f.get(5).copied().unwrap_or("")) {
            self.add(form, Meaning::DistrictAdj { muni: idx });
        }
        Ok(())
    }

    /// `C oktmo name forms`: one of a city's internal districts.
    fn city_district_record(&mut self, f: &[&str]) -> Result<(), String> {
        let muni = self.muni(field(f, 1, "oktmo")?)?;
        for form in forms(field(f, 3, "forms")?) {
            self.add(form, Meaning::CityDistrictAdj { muni });
        }
        Ok(())
    }

    /// `A oktmo forms`: the adjectives of an urban okrug's city.
    fn city_adjective_record(&mut self, f: &[&str]) -> Result<(), String> {
        let muni = self.muni(field(f, 1, "oktmo")?)?;
        if self.municipalities[muni as usize].kind != MunicipalityKind::UrbanOkrug {
            return Err("field 2: a city adjective must name an urban okrug".into());
        }
        for form in forms(field(f, 2, "forms")?) {
            self.add(form, Meaning::CityAdj { muni });
        }
        Ok(())
    }

    /// `P id oktmo region class salient strength name forms`: a settlement and how it is written.
    fn place_record(&mut self, f: &[&str]) -> Result<(), String> {
        let id = field(f, 1, "id")?;
        let muni = self.muni(field(f, 2, "oktmo")?)?;
        if self.municipalities[muni as usize].region_code != field(f, 3, "region")? {
            return Err("field 4: the region is not that of the place's municipality".into());
        }
        let class = match field(f, 4, "class")? {
            "town" => PlaceClass::Town,
            "urban" => PlaceClass::Urban,
            "rural" => PlaceClass::Rural,
            "mkr" => PlaceClass::Microdistrict,
            _ => return Err("field 5: expected the place class town, urban, rural or mkr".into()),
        };
        let salient = match field(f, 5, "salient")? {
            "1" => true,
            "0" => false,
            _ => return Err("field 6: expected salient 0 or 1".into()),
        };
        let strength = match field(f, 6, "strength")? {
            "s" => Strength::Strong,
            "c" => Strength::Common,
            "p" => Strength::Person,
            "t" => Strength::TypedOnly,
            _ => return Err("field 7: expected the strength s, c, p or t".into()),
        };
        let name = field(f, 7, "name")?;
        let idx = self.places.len() as u32;
        if self.place_ids.insert(id.into(), idx).is_some() {
            return Err("field 2: this place id is already used".into());
        }
        self.places.push(Place { name: name.into(), muni, class, salient, strength });
        let mut any = false;
        for form in forms(field(f, 8, "forms")?) {
            // A trailing '^' marks a flagged form: a surname-like or bookish declension.
            let (form, needs_prep) = form.strip_suffix('^').map_or((form, false), |f| (f, true));
            self.add(form, Meaning::Place { place: idx, needs_prep });
            any = true;
        }
        if !any {
            return Err("field 9: expected at least one name form".into());
        }
        Ok(())
    }

    /// `W class forms`: type words, nouns and prepositions that matter to a name's neighbours.
    fn word_record(&mut self, f: &[&str]) -> Result<(), String> {
        let meaning = match field(f, 1, "word class")? {
            "type:town" => Meaning::Type(TypeWord::Town),
            "type:urban" => Meaning::Type(TypeWord::Urban),
            "type:rural" => Meaning::Type(TypeWord::Rural),
            "type:any" => Meaning::Type(TypeWord::Settlement),
            "type:mkr" => Meaning::Type(TypeWord::Microdistrict),
            "district" => Meaning::DistrictNoun,
            "region" => Meaning::RegionNoun,
            "street" => Meaning::Street,
            "institution" => Meaning::Institution,
            "citybody" => Meaning::CityBody,
            "near" => Meaning::Near,
            "prep" => {
                for form in forms(field(f, 2, "forms")?) {
                    let key: Vec<u8> = normalize::encode(form).into_iter().filter(|&b| b != b' ').collect();
                    self.prepositions.push(key);
                }
                return Ok(());
            }
            _ => {
                let expected = "type:…, district, region, street, institution, citybody, near or prep";
                return Err(format!("field 2: unknown word class (expected {expected})"));
            }
        };
        for form in forms(field(f, 2, "forms")?) {
            self.add(form, meaning);
        }
        Ok(())
    }

    fn finish(self, file: &str) -> Result<Gazetteer, GazetteerError> {
        // Sorted so that pattern ids, and with them every tie-break, do not depend on hash order.
        let mut entries: Vec<(Vec<u8>, Vec<Meaning>)> = self.patterns.into_iter().collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut spans = Vec::with_capacity(entries.len());
        let mut meanings = Vec::new();
        let mut keys = Vec::with_capacity(entries.len());
        for (key, m) in entries {
            let start = meanings.len() as u32;
            meanings.extend(m);
            spans.push((start, meanings.len() as u32));
            keys.push(key);
        }
        // Measured on the shipped file (13k patterns): the contiguous NFA is ~0.5 MB and builds in
        // ~100 ms; a DFA was ~9 MB, ~90 ms slower to build and only ~15 % faster to scan.
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .kind(Some(AhoCorasickKind::ContiguousNFA))
            .start_kind(StartKind::Both)
            .build(&keys)
            .map_err(|e| GazetteerError::Build { file: file.to_string(), message: e.to_string() })?;
        let starts = StartFilter::build(&keys);
        let mut g = Gazetteer {
            version: self.version,
            automaton,
            starts,
            spans,
            meanings,
            municipalities: self.municipalities,
            by_oktmo: self.by_oktmo,
            places: self.places,
            regions: self.regions,
            prepositions: self.prepositions,
            keys,
            home: DEFAULT_REGION.to_string(),
            typos: typo::TypoIndex::default(),
            surrounding: Vec::new(),
        };
        g.typos = typo::TypoIndex::build(&g);
        g.surrounding = surrounding_districts(&g.meanings, &g.spans);
        Ok(g)
    }
}

/// (city, district) pairs whose adjectives share a form: a city's adjective is derived from its
/// region's district adjective that starts with the city's name (see `scripts/gazetteer`).
fn surrounding_districts(meanings: &[Meaning], spans: &[(u32, u32)]) -> Vec<(u32, u32)> {
    let mut pairs = Vec::new();
    for &(from, to) in spans {
        let ms = &meanings[from as usize..to as usize];
        for m in ms {
            let Meaning::CityAdj { muni: city } = *m else { continue };
            for d in ms {
                if let Meaning::DistrictAdj { muni: district } = *d {
                    if !pairs.contains(&(city, district)) {
                        pairs.push((city, district));
                    }
                }
            }
        }
    }
    pairs
}
