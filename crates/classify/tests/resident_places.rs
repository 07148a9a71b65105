//! Places as residents write them (`tests/fixtures/classify/resident_places.csv`): 357 posts
//! written for classifier 0.6.8, each batch measured before the fixes it led to, 207 by the project
//! and 150 by a second writer who saw neither the rules nor the other fixtures; they name the
//! region's towns, villages, districts and city neighbourhoods in every case, lowercase and in
//! capitals, shortened, misspelt, next to another place or another region, and include words that
//! only look like places. The label is the ОКТМО code of the problem's municipality (empty when
//! none or ambiguous) and whether the problem is in another region.
//!
//! The targets, through the whole classifier (the other-region check included): of the
//! municipalities assigned ≥ 99 % right, of the named places ≥ 95 % found.

mod common;

use common::{fixture, shipped};
use otklik_classify::SourceContext;

#[test]
fn resident_written_places_meet_the_targets() {
    let classifier = shipped(true);
    let mut reader = fixture("resident_places.csv");
    let (mut assigned, mut right, mut named, mut found) = (0usize, 0usize, 0usize, 0usize);
    let (mut elsewhere, mut flagged, mut flagged_wrongly) = (0usize, 0usize, 0usize);
    let mut misses = Vec::new();
    for record in reader.records() {
        let record = record.expect("well-formed CSV row");
        let (text, label, outside) = (&record[1], &record[2], &record[3] == "1");
        let c = classifier.classify_text(text, &SourceContext::default());
        let got = c.municipality.as_ref().map_or("", |m| m.oktmo.as_str());
        assigned += usize::from(!got.is_empty());
        right += usize::from(!got.is_empty() && got == label);
        named += usize::from(!label.is_empty());
        found += usize::from(!label.is_empty() && got == label);
        elsewhere += usize::from(outside);
        flagged += usize::from(outside && c.out_of_region);
        flagged_wrongly += usize::from(!outside && c.out_of_region);
        if got != label || c.out_of_region != outside {
            misses.push(format!("  {text:?}: expected {label:?} {outside}, got {got:?} {}", c.out_of_region));
        }
    }
    let misses = misses.join("\n");
    let precision = right as f64 / assigned.max(1) as f64;
    let coverage = found as f64 / named.max(1) as f64;
    println!(
        "assigned {assigned}, right {right} ({precision:.3}); named {named}, found {found} ({coverage:.3}); \
         another region {elsewhere}, flagged {flagged}, flagged wrongly {flagged_wrongly}\n{misses}"
    );
    assert!(precision >= 0.99, "precision {precision:.3} < 0.99\n{misses}");
    assert!(coverage >= 0.95, "coverage {coverage:.3} < 0.95\n{misses}");
    // Measured with 0.6.8: 25 of the 27 posts about another region flagged, no home post flagged.
    // Raise this when the check improves, never lower it to make a change pass.
    assert!(elsewhere - flagged <= 2, "another region: {flagged} of {elsewhere} flagged\n{misses}");
    assert!(flagged_wrongly == 0, "{flagged_wrongly} home posts flagged as another region's\n{misses}");
}
