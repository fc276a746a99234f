use super::*;

#[test]
fn a_target_without_a_measurement_fails() {
    let t = Target::new("x", Comparison::AtMost, 1.0, None);
    assert!(!t.pass);
    let t = Target::new("x", Comparison::AtMost, 1.0, Some(f64::NAN));
    assert!(!t.pass);
    let t = Target::new("x", Comparison::AtLeast, 0.9, Some(0.9));
    assert!(t.pass);
}

const BENCH: &str = include_str!("../../../tests/fixtures/bench-quick.json");

fn fixture() -> Bench {
    serde_json::from_str(BENCH).expect("the fixture is a bench.json")
}

#[test]
fn completeness_goes_by_the_parts_asked_for() {
    let mut all = fixture();
    all.judge();
    assert_eq!(
        all.targets.len(),
        31,
        "26 of the five parts, fleet's four, confirm's one"
    );
    assert!(all.incomplete().is_empty(), "{:?}", all.incomplete());
    let mut without = fixture();
    without.parts = Part::BEFORE_CONFIRM.to_vec();
    without.confirm = None;
    without.fleet = None;
    without.judge();
    assert_eq!(without.targets.len(), 26);
    assert!(
        without.incomplete().is_empty(),
        "{:?}",
        without.incomplete()
    );
    let mut lost = fixture();
    lost.confirm = None;
    assert_eq!(
        lost.incomplete(),
        vec!["confirm is missing".to_string()],
        "its target is still recorded, without the section"
    );
}

#[test]
fn a_bench_json_without_parts_is_read_as_the_five_parts_before_confirm() {
    let mut v: serde_json::Value = serde_json::from_str(BENCH).expect("json");
    let o = v.as_object_mut().expect("an object");
    o.remove("parts");
    o.remove("confirm");
    o.remove("fleet");
    o["targets"].as_array_mut().expect("targets").retain(|t| {
        let name = t["name"].as_str().unwrap_or("");
        name != "confirm.confirmed" && !name.starts_with("fleet.")
    });
    let old: Bench = serde_json::from_value(v).expect("an older bench.json parses");
    assert_eq!(old.parts_asked(), &Part::BEFORE_CONFIRM);
    assert!(old.incomplete().is_empty(), "{:?}", old.incomplete());
}
