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

use common::PlaceScores;

#[test]
fn resident_written_places_meet_the_targets() {
    let s = PlaceScores::of_fixture("resident_places.csv");
    let report = s.report();
    assert!(s.precision() >= 0.99, "precision {:.3} < 0.99\n{report}", s.precision());
    assert!(s.coverage() >= 0.95, "coverage {:.3} < 0.95\n{report}", s.coverage());
    // Measured with 0.6.8: 25 of the 27 posts about another region flagged, no home post flagged.
    // Raise this when the check improves, never lower it to make a change pass.
    assert!(s.elsewhere - s.flagged <= 2, "another region: {} of {} flagged\n{report}", s.flagged, s.elsewhere);
    assert!(s.flagged_wrongly == 0, "{} home posts flagged as another region's\n{report}", s.flagged_wrongly);
}
