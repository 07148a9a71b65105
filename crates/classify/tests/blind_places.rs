//! Places measured blind (`tests/fixtures/classify/blind_places.csv`): 420 posts written for
//! classifier 0.6.10 by three writers who saw neither the rules nor the other fixtures, only the
//! ОКТМО tables — 160 short posts over eight families of hard cases (`c`: villages in oblique
//! cases, informal town names, Penza neighbourhoods, two places, look-alike words, other regions,
//! stations and institutions, no place), 160 longer community-group posts (`d`: a place only in
//! an address, only as a district or its people, the writer's home before places visited, typos,
//! namesake villages, other regions, official notices, no place) and 100 posts naming two places
//! or more (`e`, written after `c` and `d` had led to their fixes, as a held-out check). Their
//! blind figures are in the README «Classifier quality»; they sit below the 99 % / 95 % targets
//! that the project's own sets meet, and this test keeps them from falling.

mod common;

use common::PlaceScores;

#[test]
fn blind_written_places_stay_above_their_floors() {
    let s = PlaceScores::of_fixture("blind_places.csv");
    let report = s.report();
    // Measured when the set landed (0.6.10): 256 of 277 assigned right, 256 of 306 found, 40 of 45
    // posts about another region flagged, 3 home posts flagged. Raise these when resolution
    // improves, never lower them to make a change pass.
    assert!(s.precision() >= 0.92, "precision {:.3} < 0.92\n{report}", s.precision());
    assert!(s.coverage() >= 0.835, "coverage {:.3} < 0.835\n{report}", s.coverage());
    assert!(s.flagged >= 40, "another region: {} of {} flagged\n{report}", s.flagged, s.elsewhere);
    assert!(s.flagged_wrongly <= 3, "{} home posts flagged as another region's\n{report}", s.flagged_wrongly);
}
