//! What the drill checks on the restored instance beyond the engine's verification.

use super::*;

/// Restored counts against the expected ones: equal passes; a difference is noted, since
/// an instant before later writes rightly holds other counts.
pub fn compare_counts(
    expected: &BTreeMap<String, i64>,
    got: &BTreeMap<String, i64>,
) -> (ItemStatus, String) {
    if expected.is_empty() {
        return (
            ItemStatus::Noted,
            "no expected counts to compare with".into(),
        );
    }
    let diffs: Vec<String> = expected
        .keys()
        .chain(got.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter(|t| expected.get(*t) != got.get(*t))
        .map(|t| {
            let show = |v: Option<&i64>| v.map_or("-".to_string(), |x| x.to_string());
            format!(
                "{t}: expected {}, restored {}",
                show(expected.get(t)),
                show(got.get(t))
            )
        })
        .collect();
    if diffs.is_empty() {
        (
            ItemStatus::Passed,
            format!("all {} tables as expected", expected.len()),
        )
    } else {
        (ItemStatus::Noted, diffs.join("; "))
    }
}
