//! How the drill's figures are worded for people.

/// `1 h 02 min 03.4 s`, `2 min 05.0 s`, `850 ms`.
pub fn human_ms(ms: u64) -> String {
    if ms < 1000 {
        return format!("{ms} ms");
    }
    let s = ms as f64 / 1000.0;
    let (h, m) = ((s / 3600.0) as u64, ((s % 3600.0) / 60.0) as u64);
    let rest = s - (h * 3600 + m * 60) as f64;
    match (h, m) {
        (0, 0) => format!("{rest:.1} s"),
        (0, _) => format!("{m} min {rest:04.1} s"),
        _ => format!("{h} h {m:02} min {rest:04.1} s"),
    }
}
