//! Near-duplicate text: MinHash signatures over word shingles and an LSH index of bands.
//!
//! Hashes use fixed seeds, so signatures (and therefore every linking decision) are the same in
//! every process and build. A signature has [`PERMUTATIONS`] slots; the index cuts it into
//! [`BANDS`] bands of [`ROWS`] slots, so two texts with Jaccard similarity `s` become candidates
//! with probability `1 - (1 - s^4)^32`: 0.87 at 0.5, 0.99 at 0.7, 0.10 at 0.3. Candidates are
//! then checked against the stored signature. Only the first post of a copy cluster is indexed:
//! copies compare with the cluster's first text, which keeps the index as small as the number of
//! distinct texts.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

pub const PERMUTATIONS: usize = 128;
pub const BANDS: usize = 32;
pub const ROWS: usize = PERMUTATIONS / BANDS;

/// A signature as stored: the top 16 bits of each slot. Two different 32-bit minima agree in
/// their top bits with probability 2⁻¹⁶, which moves a Jaccard estimate by nothing that matters
/// and halves the memory.
pub type Stored = Box<[u16; PERMUTATIONS]>;

/// 64-bit FNV-1a followed by a strong finaliser: stable across builds, good enough spread.
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix(h)
}

/// The splitmix64 finaliser.
pub fn mix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Word shingles of a token list: bigrams, or the single token of a one-word text. Sorted and
/// deduplicated, so the signature does not depend on repetition.
pub fn shingles<'a>(tokens: impl Iterator<Item = &'a str>) -> Vec<u64> {
    let hashes: Vec<u64> = tokens.map(|t| hash_bytes(t.as_bytes())).collect();
    let mut out: Vec<u64> =
        if hashes.len() == 1 { hashes } else { hashes.windows(2).map(|w| mix(w[0].rotate_left(17) ^ w[1])).collect() };
    out.sort_unstable();
    out.dedup();
    out
}

/// The multipliers and offsets of the hash family `h_i(x) = a_i·x + b_i` (a_i odd), whose top 32
/// bits stand in for a permutation.
struct Family {
    a: [u64; PERMUTATIONS],
    b: [u64; PERMUTATIONS],
}

const fn family() -> Family {
    let mut a = [0u64; PERMUTATIONS];
    let mut b = [0u64; PERMUTATIONS];
    let mut state: u64 = 0x6f74_6b6c_696b_2121; // "otklik!!": a fixed seed
    let mut i = 0;
    while i < PERMUTATIONS {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        a[i] = const_mix(state) | 1;
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        b[i] = const_mix(state);
        i += 1;
    }
    Family { a, b }
}

const fn const_mix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

static FAMILY: Family = family();

/// The MinHash signature of a shingle set (all slots `u32::MAX` when it is empty).
pub fn signature(shingles: &[u64]) -> [u32; PERMUTATIONS] {
    let mut sig = [u32::MAX; PERMUTATIONS];
    for &s in shingles {
        for (slot, (a, b)) in sig.iter_mut().zip(FAMILY.a.iter().zip(&FAMILY.b)) {
            let h = (a.wrapping_mul(s).wrapping_add(*b) >> 32) as u32;
            if h < *slot {
                *slot = h;
            }
        }
    }
    sig
}

pub fn store(sig: &[u32; PERMUTATIONS]) -> Stored {
    let mut out = Box::new([0u16; PERMUTATIONS]);
    for (o, s) in out.iter_mut().zip(sig) {
        *o = (s >> 16) as u16;
    }
    out
}

/// The share of slots two signatures agree on: an estimate of the Jaccard similarity.
pub fn similarity(a: &[u32; PERMUTATIONS], b: &[u16; PERMUTATIONS]) -> f64 {
    let same = a.iter().zip(b.iter()).filter(|(x, y)| (**x >> 16) as u16 == **y).count();
    same as f64 / PERMUTATIONS as f64
}

/// The keys of a signature's bands (band number mixed in, so one map holds every band).
pub fn band_keys(sig: &[u32; PERMUTATIONS]) -> [u64; BANDS] {
    let mut keys = [0u64; BANDS];
    for (band, key) in keys.iter_mut().enumerate() {
        let mut h = band as u64;
        for &v in &sig[band * ROWS..(band + 1) * ROWS] {
            h = mix(h.rotate_left(29) ^ u64::from(v));
        }
        *key = h;
    }
    keys
}

/// The same band keys from a stored signature (for removal on expiry); stored slots are the top
/// halves, so keys are computed from those halves when indexing too.
pub fn band_keys_stored(sig: &[u16; PERMUTATIONS]) -> [u64; BANDS] {
    let mut full = [0u32; PERMUTATIONS];
    for (f, s) in full.iter_mut().zip(sig.iter()) {
        *f = u32::from(*s) << 16;
    }
    band_keys(&full)
}

/// Keys are already well-mixed hashes: a hasher that passes them through.
#[derive(Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are used; fold anything else in for safety.
        for &b in bytes {
            self.0 = mix(self.0 ^ u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

pub type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

/// Truncates a full signature to what [`band_keys_stored`] sees, so indexing and removal agree.
pub fn truncated(sig: &[u32; PERMUTATIONS]) -> [u32; PERMUTATIONS] {
    let mut t = *sig;
    for v in &mut t {
        *v &= 0xffff_0000;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig_of(text: &str) -> [u32; PERMUTATIONS] {
        signature(&shingles(text.split_whitespace()))
    }

    #[test]
    fn similar_texts_estimate_close_to_their_jaccard() {
        let a = "нет воды третий день на улице мира дом пять когда дадут воду";
        let b = "нет воды третий день на улице мира дом пять когда же дадут воду";
        let est = similarity(&sig_of(a), &store(&sig_of(b)));
        assert!(est > 0.6, "{est}");
        let c = "во дворе яма огромная машины не проехать сделайте хоть что то";
        assert!(similarity(&sig_of(a), &store(&sig_of(c))) < 0.1);
    }

    #[test]
    fn signatures_are_deterministic() {
        assert_eq!(sig_of("одна и та же строка текста"), sig_of("одна и та же строка текста"));
        assert_eq!(band_keys_stored(&store(&sig_of("a b c"))), band_keys(&truncated(&sig_of("a b c"))));
    }
}
