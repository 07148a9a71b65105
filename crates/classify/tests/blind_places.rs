//! Places measured blind (`tests/fixtures/classify/blind_places.csv`): 320 posts written for
//! classifier 0.6.10 by two writers who saw neither the rules nor the other fixtures, only the
//! ОКТМО tables — 160 short posts over eight families of hard cases (`c`: villages in oblique
//! cases, informal town names, Penza neighbourhoods, two places, look-alike words, other regions,
//! stations and institutions, no place) and 160 longer community-group posts (`d`: a place only in
//! an address, only as a district or its people, the writer's home before places visited, typos,
//! namesake villages, other regions, official notices, no place). Their blind figures are in the
//! README «Classifier quality»; they sit below the 99 % / 95 % targets that the project's own sets
//! meet, and this test keeps them from falling.

mod common;

use common::PlaceScores;

#[test]
fn blind_written_places_stay_above_their_floors() {
    let s = PlaceScores::of_fixture("blind_places.csv");
    let report = s.report();
    // Measured when the set landed (0.6.10): 202 of 209 assigned right, 202 of 231 found, 33 of 36
    // posts about another region flagged, 2 home posts flagged. Raise these when resolution
    // improves, never lower them to make a change pass.
    assert!(s.precision() >= 0.965, "precision {:.3} < 0.965\n{report}", s.precision());
    assert!(s.coverage() >= 0.87, "coverage {:.3} < 0.87\n{report}", s.coverage());
    assert!(s.flagged >= 33, "another region: {} of {} flagged\n{report}", s.flagged, s.elsewhere);
    assert!(s.flagged_wrongly <= 2, "{} home posts flagged as another region's\n{report}", s.flagged_wrongly);
}
