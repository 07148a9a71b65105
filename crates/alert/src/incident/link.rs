//! The linker: the window state and the decisions (copy, incident, voice) for each post.
//!
//! Every decision reads the state, and every change to the state goes through [`Linker::apply`],
//! which both live linking and [`Linker::restore`] use: replaying already-linked posts in the
//! order they were linked gives the state an uninterrupted run had.

use super::minhash::{self, hash_bytes, IdMap, Stored, PERMUTATIONS};
use super::voice::{self, author_key};
use super::{Link, LinkConfig, LinkPost};
use otklik_classify::gazetteer::PlaceDetail;
use otklik_model::{PostKind, Topic};
use std::collections::{HashMap, HashSet, VecDeque};

/// Incidents of a group a standalone short reply may join: the latest few are enough.
const RECENT_PER_SOURCE: usize = 8;

/// The most recently active incidents of an (area, family) a post is compared with.
const CANDIDATES: usize = 32;

/// How many touches of an (area, family) a lookup reads at most: a busy incident touched again
/// and again leaves stale touches behind, which must not make a lookup slow.
const SCAN: usize = 8 * CANDIDATES;

/// Sweep the open logs of idle keys this often (in applied posts).
const SWEEP_EVERY: u32 = 4096;

/// The linker's window state. Not shared between threads: one linker per alert instance (it
/// owns whole municipalities, DESIGN.md).
pub struct Linker {
    config: LinkConfig,
    /// The newest `published_at` seen, seconds: expiry is measured from it, never from a clock.
    now: i64,
    posts: IdMap<PostEntry>,
    post_queue: VecDeque<(i64, u64)>,
    clusters: IdMap<Cluster>,
    cluster_queue: VecDeque<(i64, u64)>,
    /// Band key → the cluster whose first text has it (the latest such cluster).
    lsh: IdMap<u64>,
    incidents: IdMap<Incident>,
    incident_queue: VecDeque<(i64, u64)>,
    /// (area, topic family) → every touch of its incidents within `quiet_gap`: (the incident's
    /// last post then, incident), oldest first. Reading it from the back gives the incidents most
    /// recently active, so a lookup costs at most [`CANDIDATES`] incidents however many are open.
    open: HashMap<(u64, u8), VecDeque<(i64, u64)>>,
    /// (area, family, street) → the incident last active at that street: found however old, within
    /// the gap, when the most recent ones are elsewhere.
    by_street: IdMap<u64>,
    /// Applies since the open logs were last swept of entries older than the gap.
    since_sweep: u32,
    /// Source → its latest incidents with a topic, newest last.
    recent: IdMap<Vec<u64>>,
}

#[derive(Debug, Clone, Copy)]
struct PostEntry {
    incident: u64,
    cluster: u64,
    at: i64,
    voice: bool,
    /// The post is a copy (not its cluster's first post).
    copy: bool,
}

pub(super) struct Cluster {
    root: String,
    /// `None` for a text without shingles: never a copy candidate.
    sig: Option<Stored>,
    author: u64,
    short: bool,
    municipality: Option<u64>,
    incident: u64,
    last_at: i64,
    pub(super) day: i64,
    pub(super) day_voices: u32,
}

pub(super) struct Incident {
    id: String,
    area: u64,
    family: Option<u8>,
    place: PlaceDetail,
    source: u64,
    last_at: i64,
    pub(super) voices: HashSet<u64, std::hash::BuildHasherDefault<minhash::IdHasher>>,
}

/// Sizes of the window, for the bench and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WindowStats {
    pub posts: usize,
    pub clusters: usize,
    pub indexed_bands: usize,
    pub incidents: usize,
    pub voices: usize,
    /// An estimate of the heap bytes the state holds (entries × their sizes, with hash-table slack).
    pub approx_bytes: usize,
}

/// How a post reaches its incident.
enum Target {
    Existing(u64),
    New,
}

struct Decision {
    /// (cluster key, root uid) when the post is a copy.
    copy: Option<(u64, String)>,
    target: Target,
    /// A repost without own words that is a copy: counted where the origin was written (or, origin
    /// unseen, at the cluster's first repost).
    counted_elsewhere: bool,
}

impl Linker {
    pub fn new(config: LinkConfig) -> Linker {
        Linker {
            config,
            now: i64::MIN,
            posts: IdMap::default(),
            post_queue: VecDeque::new(),
            clusters: IdMap::default(),
            cluster_queue: VecDeque::new(),
            lsh: IdMap::default(),
            incidents: IdMap::default(),
            incident_queue: VecDeque::new(),
            open: HashMap::new(),
            by_street: IdMap::default(),
            since_sweep: 0,
            recent: IdMap::default(),
        }
    }

    pub fn config(&self) -> &LinkConfig {
        &self.config
    }

    /// Links one post. A uid seen before gets its earlier link back (redelivery is harmless).
    pub fn link(&mut self, post: &LinkPost) -> Link {
        let key = hash_bytes(post.uid.as_bytes());
        if let Some(link) = self.known(key) {
            return link;
        }
        let sig = (!post.features.shingles.is_empty()).then(|| minhash::signature(&post.features.shingles));
        let decision = self.decide(post, sig.as_ref());
        let incident = match decision.target {
            Target::Existing(k) => self.incidents.get(&k).map(|i| i.id.clone()),
            Target::New => None,
        };
        let incident_id = incident.unwrap_or_else(|| post.uid.clone());
        let is_voice = self.voice(post, &decision, &incident_id);
        let link = Link { copy_of: decision.copy.map(|(_, root)| root), incident_id, is_voice };
        self.apply(post, &link, sig.as_ref());
        link
    }

    /// Whether the post is in the window already (linked or restored): a redelivery.
    pub fn contains(&self, uid: &str) -> bool {
        self.posts.contains_key(&hash_bytes(uid.as_bytes()))
    }

    /// Links a batch; the result does not depend on the order of the posts in it (they are
    /// linked in `published_at`, then uid order) and comes back in the batch's order.
    pub fn link_batch(&mut self, posts: &[LinkPost]) -> Vec<Link> {
        let mut order: Vec<usize> = (0..posts.len()).collect();
        order.sort_by(|&a, &b| (posts[a].published_at, &posts[a].uid).cmp(&(posts[b].published_at, &posts[b].uid)));
        let mut links: Vec<Option<Link>> = vec![None; posts.len()];
        for i in order {
            links[i] = Some(self.link(&posts[i]));
        }
        links.into_iter().flatten().collect()
    }

    /// Rebuilds state from a post linked before (after a restart: the last 72 h of the store, in
    /// the order they were linked).
    pub fn restore(&mut self, post: &LinkPost, link: &Link) {
        if self.posts.contains_key(&hash_bytes(post.uid.as_bytes())) {
            return;
        }
        let sig = (!post.features.shingles.is_empty()).then(|| minhash::signature(&post.features.shingles));
        self.apply(post, link, sig.as_ref());
    }

    pub fn stats(&self) -> WindowStats {
        let voices = self.incidents.values().map(|i| i.voices.len()).sum::<usize>();
        let strings = self.clusters.values().map(|c| c.root.len()).sum::<usize>()
            + self.incidents.values().map(|i| i.id.len() + place_bytes(&i.place)).sum::<usize>();
        let signatures = self.clusters.values().filter(|c| c.sig.is_some()).count() * PERMUTATIONS * 2;
        // hashbrown keeps at least 1/8 of its slots free and a control byte per slot.
        let table = |entries: usize, entry: usize| entries * (entry + 1) * 8 / 7;
        let approx_bytes = table(self.posts.len(), 8 + std::mem::size_of::<PostEntry>())
            + self.post_queue.len() * 16
            + table(self.clusters.len(), 8 + std::mem::size_of::<Cluster>())
            + self.cluster_queue.len() * 16
            + table(self.lsh.len(), 16)
            + table(self.incidents.len(), 8 + std::mem::size_of::<Incident>())
            + self.incident_queue.len() * 16
            + self.open.values().map(|v| 24 + 16 + 32 + v.capacity() * 16).sum::<usize>()
            + table(self.by_street.len(), 16)
            + table(voices, 8)
            + strings
            + signatures;
        WindowStats {
            posts: self.posts.len(),
            clusters: self.clusters.len(),
            indexed_bands: self.lsh.len(),
            incidents: self.incidents.len(),
            voices,
            approx_bytes,
        }
    }

    fn known(&self, key: u64) -> Option<Link> {
        let entry = self.posts.get(&key)?;
        let incident = self.incidents.get(&entry.incident)?;
        let copy_of = if entry.copy { Some(self.clusters.get(&entry.cluster)?.root.clone()) } else { None };
        Some(Link { copy_of, incident_id: incident.id.clone(), is_voice: entry.voice })
    }

    fn decide(&self, post: &LinkPost, sig: Option<&[u32; PERMUTATIONS]>) -> Decision {
        let at = post.published_at.timestamp();
        // A repost of a post in the window is a copy of that post's cluster, or (with words of its
        // own) a new voice in that post's incident.
        if let Some(origin) = post.repost_of.as_ref().and_then(|o| self.posts.get(&hash_bytes(o.as_bytes()))) {
            if let Some(cluster) = self.clusters.get(&origin.cluster).filter(|_| !post.own_words) {
                let target = self.existing(cluster.incident);
                return Decision {
                    copy: Some((origin.cluster, cluster.root.clone())),
                    target,
                    counted_elsewhere: true,
                };
            }
            return Decision { copy: None, target: self.existing(origin.incident), counted_elsewhere: false };
        }
        if let Some((key, cluster)) = sig.and_then(|s| self.copy_candidate(post, s, at)) {
            let counted_elsewhere = post.repost_of.is_some() && !post.own_words;
            return Decision {
                copy: Some((key, cluster.root.clone())),
                target: self.existing(cluster.incident),
                counted_elsewhere,
            };
        }
        let target = if self.config.copies_only { Target::New } else { self.incident_for(post, at) };
        Decision { copy: None, target, counted_elsewhere: false }
    }

    fn existing(&self, incident: u64) -> Target {
        if self.incidents.contains_key(&incident) {
            Target::Existing(incident)
        } else {
            Target::New
        }
    }

    /// The best indexed cluster this text is a copy of, if any.
    fn copy_candidate(&self, post: &LinkPost, sig: &[u32; PERMUTATIONS], at: i64) -> Option<(u64, &Cluster)> {
        let author = author_key(post);
        let short = post.features.tokens < self.config.min_copy_tokens;
        let municipality = post.municipality.as_deref().map(|m| hash_bytes(m.as_bytes()));
        let window = self.config.window.num_seconds();
        let mut best: Option<(f64, u64, &Cluster)> = None;
        let mut seen: [u64; minhash::BANDS] = [0; minhash::BANDS];
        for (n, band) in minhash::band_keys(&minhash::truncated(sig)).iter().enumerate() {
            let Some(&key) = self.lsh.get(band) else { continue };
            if seen[..n].contains(&key) {
                continue;
            }
            seen[n] = key;
            let Some(cluster) = self.clusters.get(&key) else { continue };
            let Some(stored) = &cluster.sig else { continue };
            if (at - cluster.last_at).abs() > window {
                continue;
            }
            // Short texts («когда дадут воду?») and one text in two towns are copies only when
            // one author wrote both.
            let other_author = cluster.author != author;
            let other_town = matches!((municipality, cluster.municipality), (Some(a), Some(b)) if a != b);
            if other_author && (short || cluster.short || other_town) {
                continue;
            }
            let similarity = minhash::similarity(sig, stored);
            if similarity < self.config.jaccard {
                continue;
            }
            let better = match best {
                None => true,
                Some((s, k, _)) => similarity > s || (similarity == s && key < k),
            };
            if better {
                best = Some((similarity, key, cluster));
            }
        }
        best.map(|(_, k, c)| (k, c))
    }

    /// The incident a post that is not a copy belongs to.
    fn incident_for(&self, post: &LinkPost, at: i64) -> Target {
        let families: Vec<u8> = post.topics.iter().map(|&t| family(t)).collect();
        let fits = |i: &Incident| {
            (families.is_empty() || i.family.is_none_or(|f| families.contains(&f))) && self.place_fits(i, post, at)
        };
        // A comment is about the post it answers unless it names a problem and a place of its own.
        if let Some(parent) = post.reply_to.as_ref().and_then(|p| self.posts.get(&hash_bytes(p.as_bytes()))) {
            let own_place = !post.features.place.is_empty();
            if self
                .incidents
                .get(&parent.incident)
                .is_some_and(|i| fits(i) || (!own_place && self.place_fits(i, post, at)))
            {
                return Target::Existing(parent.incident);
            }
        }
        if families.is_empty() {
            return self.standalone_reply(post, at);
        }
        let area = area_of(post);
        let gap =
            if post.features.place.is_empty() { self.config.vague_gap } else { self.config.quiet_gap }.num_seconds();
        // News and announcements join an incident only when they name its place.
        let needs_place = post.kind == PostKind::Info;
        let mut best: Option<(usize, i64, u64)> = None;
        // A post that names no municipality may still be about its group's latest incidents,
        // wherever those are (a town group whose binding the text does not repeat).
        let group = post.municipality.is_none().then(|| self.recent.get(&hash_bytes(post.source.as_bytes()))).flatten();
        // Incidents quiet for longer than the gap at the newest post seen are never candidates, so
        // that sweeping them from the logs changes nothing.
        let quiet = self.now.saturating_sub(self.config.quiet_gap.num_seconds());
        for f in &families {
            let street = street_key(area, *f, &post.features.place).and_then(|k| self.by_street.get(&k).copied());
            let open = self.recently_active(area, *f, (at - gap).max(quiet));
            for k in open.into_iter().chain(street).chain(group.into_iter().flatten().copied()) {
                let Some(i) = self.incidents.get(&k).filter(|i| i.family == Some(*f)) else { continue };
                if (at - i.last_at).abs() > gap || i.last_at < quiet || !self.place_fits(i, post, at) {
                    continue;
                }
                let rank = (agreement(&i.place, &post.features.place), i.last_at, k);
                if needs_place && rank.0 == 0 {
                    continue;
                }
                if best.is_none_or(|b| (rank.0, rank.1, std::cmp::Reverse(rank.2)) > (b.0, b.1, std::cmp::Reverse(b.2)))
                {
                    best = Some(rank);
                }
            }
            if best.is_some() {
                break;
            }
        }
        best.map_or(Target::New, |(_, _, k)| Target::Existing(k))
    }

    /// The most recently active incidents of (area, family) since `since`, newest first.
    fn recently_active(&self, area: u64, family: u8, since: i64) -> Vec<u64> {
        let mut out: Vec<u64> = Vec::new();
        for &(last, k) in self.open.get(&(area, family)).into_iter().flatten().rev().take(SCAN) {
            if last < since || out.len() == CANDIDATES {
                break;
            }
            // A later touch of the same incident has already been seen.
            if self.incidents.get(&k).is_some_and(|i| i.last_at == last) && !out.contains(&k) {
                out.push(k);
            }
        }
        out
    }

    /// Whether a post's place can be the incident's: every detail both give agrees, except
    /// another house of the same street during a network outage (see [`LinkConfig::house_gap`]).
    fn place_fits(&self, incident: &Incident, post: &LinkPost, at: i64) -> bool {
        let place = &post.features.place;
        if incident.place.compatible(place) {
            return true;
        }
        let network = incident.family.is_some_and(|f| NETWORKS.iter().any(|&t| family(t) == f));
        let fresh = (at - incident.last_at).abs() <= self.config.house_gap.num_seconds();
        network && fresh && incident.place.street == place.street && {
            let without_house = PlaceDetail { house: None, ..place.clone() };
            incident.place.compatible(&without_house)
        }
    }

    /// A post without a topic standing alone joins its group's latest fresh incident when it is a
    /// short «+1» / «у нас тоже», or when it names that incident's place («где набрать воды? на
    /// Ладожской отключили»).
    fn standalone_reply(&self, post: &LinkPost, at: i64) -> Target {
        let me_too = post.features.tokens <= self.config.short_reply_tokens && post.features.reply_cue;
        if !me_too && post.features.place.is_empty() {
            return Target::New;
        }
        let source = hash_bytes(post.source.as_bytes());
        let gap = self.config.reply_gap.num_seconds();
        let latest = self.recent.get(&source).into_iter().flatten().rev().find_map(|k| {
            let i = self.incidents.get(k)?;
            let place =
                if me_too { self.place_fits(i, post, at) } else { agreement(&i.place, &post.features.place) > 0 };
            (at >= i.last_at && at - i.last_at <= gap && place).then_some(*k)
        });
        latest.map_or(Target::New, Target::Existing)
    }

    fn voice(&self, post: &LinkPost, decision: &Decision, incident_id: &str) -> bool {
        let incident = self.incidents.get(&hash_bytes(incident_id.as_bytes()));
        let cluster = decision.copy.as_ref().and_then(|(k, _)| self.clusters.get(k));
        let day = post.published_at.timestamp().div_euclid(86_400);
        voice::is_voice(post, &self.config, decision.counted_elsewhere, incident, cluster, day)
    }

    /// Records a linked post in the window: the one place state changes.
    fn apply(&mut self, post: &LinkPost, link: &Link, sig: Option<&[u32; PERMUTATIONS]>) {
        let at = post.published_at.timestamp();
        let incident_key = hash_bytes(link.incident_id.as_bytes());
        self.touch_incident(post, &link.incident_id, incident_key, at);
        let root = link.copy_of.as_deref().unwrap_or(&post.uid);
        let cluster_key = hash_bytes(root.as_bytes());
        self.touch_cluster(post, root, cluster_key, incident_key, sig, at);
        if link.is_voice {
            if let Some(i) = self.incidents.get_mut(&incident_key) {
                i.voices.insert(author_key(post));
            }
            if let Some(c) = self.clusters.get_mut(&cluster_key) {
                voice::count_cluster_voice(c, at.div_euclid(86_400));
            }
        }
        let entry = PostEntry {
            incident: incident_key,
            cluster: cluster_key,
            at,
            voice: link.is_voice,
            copy: link.copy_of.is_some(),
        };
        let uid = hash_bytes(post.uid.as_bytes());
        self.posts.insert(uid, entry);
        self.post_queue.push_back((at, uid));
        self.now = self.now.max(at);
        self.expire();
    }

    fn touch_incident(&mut self, post: &LinkPost, id: &str, key: u64, at: i64) {
        let family = post.topics.first().map(|&t| family(t));
        let source = hash_bytes(post.source.as_bytes());
        let incident = self.incidents.entry(key).or_insert_with(|| {
            self.incident_queue.push_back((at, key));
            Incident {
                id: id.to_owned(),
                area: area_of(post),
                family: None,
                place: PlaceDetail::default(),
                source,
                last_at: at,
                voices: Default::default(),
            }
        });
        incident.last_at = incident.last_at.max(at);
        merge_place(&mut incident.place, &post.features.place);
        if incident.family.is_none() {
            incident.family = family;
        }
        let (area, last_at, incident_family) = (incident.area, incident.last_at, incident.family);
        let street = incident_family.and_then(|f| street_key(area, f, &incident.place));
        if let Some(f) = incident_family {
            let quiet = self.now.max(at).saturating_sub(self.config.quiet_gap.num_seconds());
            let log = self.open.entry((area, f)).or_default();
            match log.back_mut() {
                Some(back) if back.1 == key => back.0 = last_at,
                _ => log.push_back((last_at, key)),
            }
            while log.front().is_some_and(|&(t, _)| t < quiet) {
                log.pop_front();
            }
            if let Some(street) = street {
                self.by_street.insert(street, key);
            }
            let recent = self.recent.entry(source).or_default();
            recent.retain(|&k| k != key);
            recent.push(key);
            if recent.len() > RECENT_PER_SOURCE {
                recent.remove(0);
            }
        }
    }

    fn touch_cluster(
        &mut self,
        post: &LinkPost,
        root: &str,
        key: u64,
        incident: u64,
        sig: Option<&[u32; PERMUTATIONS]>,
        at: i64,
    ) {
        if let Some(c) = self.clusters.get_mut(&key) {
            c.last_at = c.last_at.max(at);
            return;
        }
        let stored = sig.map(minhash::store);
        if let Some(s) = sig {
            for band in minhash::band_keys(&minhash::truncated(s)) {
                self.lsh.insert(band, key);
            }
        }
        let cluster = Cluster {
            root: root.to_owned(),
            sig: stored,
            author: author_key(post),
            short: post.features.tokens < self.config.min_copy_tokens,
            municipality: post.municipality.as_deref().map(|m| hash_bytes(m.as_bytes())),
            incident,
            last_at: at,
            day: i64::MIN,
            day_voices: 0,
        };
        self.clusters.insert(key, cluster);
        self.cluster_queue.push_back((at, key));
    }

    /// Drops what fell out of the window, and closes incidents quiet for longer than the gap.
    fn expire(&mut self) {
        let cutoff = self.now.saturating_sub(self.config.window.num_seconds());
        while let Some(&(at, key)) = self.post_queue.front() {
            if at >= cutoff {
                break;
            }
            self.post_queue.pop_front();
            if self.posts.get(&key).is_some_and(|e| e.at == at) {
                self.posts.remove(&key);
            }
        }
        while let Some((_, key)) = pop_due(&mut self.cluster_queue, cutoff) {
            match self.clusters.get(&key).map(|c| c.last_at) {
                Some(last) if last >= cutoff => self.cluster_queue.push_back((last, key)),
                Some(_) => self.drop_cluster(key),
                None => {}
            }
        }
        self.since_sweep += 1;
        if self.since_sweep >= SWEEP_EVERY {
            self.since_sweep = 0;
            let quiet = self.now.saturating_sub(self.config.quiet_gap.num_seconds());
            self.open.retain(|_, log| {
                while log.front().is_some_and(|&(t, _)| t < quiet) {
                    log.pop_front();
                }
                !log.is_empty()
            });
        }
        while let Some((_, key)) = pop_due(&mut self.incident_queue, cutoff) {
            match self.incidents.get(&key).map(|i| (i.last_at, i.source)) {
                Some((last, _)) if last >= cutoff => self.incident_queue.push_back((last, key)),
                Some((_, source)) => {
                    if let Some(i) = self.incidents.remove(&key) {
                        let street = i.family.and_then(|f| street_key(i.area, f, &i.place));
                        if let Some(street) = street.filter(|s| self.by_street.get(s) == Some(&key)) {
                            self.by_street.remove(&street);
                        }
                    }
                    if let Some(list) = self.recent.get_mut(&source) {
                        list.retain(|&k| k != key);
                        if list.is_empty() {
                            self.recent.remove(&source);
                        }
                    }
                }
                None => {}
            }
        }
    }

    fn drop_cluster(&mut self, key: u64) {
        let Some(cluster) = self.clusters.remove(&key) else { return };
        if let Some(sig) = &cluster.sig {
            for band in minhash::band_keys_stored(sig) {
                if self.lsh.get(&band) == Some(&key) {
                    self.lsh.remove(&band);
                }
            }
        }
    }
}

fn pop_due(queue: &mut VecDeque<(i64, u64)>, cutoff: i64) -> Option<(i64, u64)> {
    match queue.front() {
        Some(&(at, _)) if at < cutoff => queue.pop_front(),
        _ => None,
    }
}

/// Topics whose outages reach a whole street at once.
const NETWORKS: &[Topic] =
    &[Topic::Heating, Topic::HotWater, Topic::ColdWater, Topic::Sewerage, Topic::Electricity, Topic::Gas];

/// Hot and cold water outages are told with either word («нет воды»), and «нет света» is a power
/// cut or dark street lamps: one family each.
fn family(topic: Topic) -> u8 {
    match topic {
        Topic::HotWater => Topic::ColdWater as u8,
        Topic::StreetLighting => Topic::Electricity as u8,
        t => t as u8,
    }
}

/// The municipality, else the group: where an incident can be.
fn area_of(post: &LinkPost) -> u64 {
    match &post.municipality {
        Some(m) => hash_bytes(m.as_bytes()),
        None => hash_bytes(format!("source:{}", post.source).as_bytes()),
    }
}

/// The key of an (area, family, street) in the street index.
fn street_key(area: u64, family: u8, place: &PlaceDetail) -> Option<u64> {
    let street = place.street.as_deref()?;
    Some(hash_bytes(format!("{area}:{family}:{street}").as_bytes()))
}

/// How many place fields both give and agree on.
fn agreement(a: &PlaceDetail, b: &PlaceDetail) -> usize {
    let same = |x: &Option<String>, y: &Option<String>| matches!((x, y), (Some(x), Some(y)) if x == y);
    usize::from(same(&a.settlement, &b.settlement))
        + usize::from(same(&a.street, &b.street))
        + usize::from(same(&a.house, &b.house))
        + usize::from(same(&a.landmark, &b.landmark))
}

/// An incident's place becomes as specific as its posts say.
fn merge_place(into: &mut PlaceDetail, from: &PlaceDetail) {
    for (a, b) in [
        (&mut into.settlement, &from.settlement),
        (&mut into.street, &from.street),
        (&mut into.house, &from.house),
        (&mut into.landmark, &from.landmark),
    ] {
        if a.is_none() {
            a.clone_from(b);
        }
    }
}

fn place_bytes(p: &PlaceDetail) -> usize {
    [&p.settlement, &p.street, &p.house, &p.landmark].iter().map(|f| f.as_ref().map_or(0, |s| s.len())).sum()
}
