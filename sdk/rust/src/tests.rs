use super::*;

#[test]
fn epoch_millis_reads_the_wall_clock() {
    // 2020-01-01T00:00:00Z: any later clock will do.
    let start_of_2020 = 1_577_836_800_000;
    let now = epoch_millis();
    assert!(now > start_of_2020, "{now}");
    assert!(epoch_millis() >= now);
}
