//! The visible stretch of time: where it starts, how much time one screen column holds, the
//! cursor's step, and the arithmetic between instants and columns.

use chrono::{DateTime, Duration, Utc};

/// Cursor steps, in seconds: 1s, 10s, 1m, 10m, 1h, 6h, 1d.
pub const STEPS: [i64; 7] = [1, 10, 60, 600, 3600, 6 * 3600, 86400];

const S: i64 = 1000;

/// The widest cursor step that still crosses a history of `span` in at least this many
/// presses, so the first → does not jump over most of it.
const STEPS_ACROSS: i64 = 30;

/// The step (an index into `STEPS`) a history `span` long opens with.
pub fn fitting_step(span: Duration) -> usize {
    let seconds = span.num_seconds();
    STEPS
        .iter()
        .rposition(|&s| s * STEPS_ACROSS <= seconds)
        .unwrap_or(0)
}

/// Milliseconds per column, from closest to widest. Sub-second zooms matter for small
/// clusters (the lab), whose whole history can fit in a minute.
pub const ZOOMS: [i64; 20] = [
    100,
    200,
    500,
    S,
    2 * S,
    5 * S,
    10 * S,
    30 * S,
    60 * S,
    120 * S,
    300 * S,
    600 * S,
    1800 * S,
    3600 * S,
    2 * 3600 * S,
    6 * 3600 * S,
    12 * 3600 * S,
    86400 * S,
    2 * 86400 * S,
    7 * 86400 * S,
];

/// `500ms`, `1s`, `10m`: a zoom level for titles.
pub fn per_column_label(millis: i64) -> String {
    if millis < S {
        format!("{millis}ms")
    } else {
        short_duration(millis / S)
    }
}

/// `90` -> `1m30s`, `3600` -> `1h`: short durations for titles and help.
pub fn short_duration(seconds: i64) -> String {
    let mut rest = seconds;
    let mut out = String::new();
    for (unit, len) in [("d", 86400), ("h", 3600), ("m", 60), ("s", 1)] {
        if rest >= len {
            out.push_str(&format!("{}{unit}", rest / len));
            rest %= len;
        }
    }
    if out.is_empty() {
        out.push_str("0s");
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeView {
    /// Left edge of column 0, a multiple of `per_column` since the epoch so that the
    /// column buckets of an instant do not depend on how the view got there.
    pub start: DateTime<Utc>,
    pub zoom: usize,
    pub columns: u16,
}

impl TimeView {
    /// Milliseconds per column.
    pub fn per_column(&self) -> i64 {
        ZOOMS[self.zoom]
    }

    pub fn end(&self) -> DateTime<Utc> {
        self.start + Duration::milliseconds(self.per_column() * i64::from(self.columns))
    }

    /// The narrowest zoom that shows `from..=to` in `columns`, starting at or before `from`.
    pub fn fitting(from: DateTime<Utc>, to: DateTime<Utc>, columns: u16) -> TimeView {
        let span = (to - from).num_milliseconds().max(1);
        let cols = i64::from(columns.max(1));
        let zoom = ZOOMS
            .iter()
            .position(|&z| {
                let start = align(from, z);
                (to - start).num_milliseconds() < z * cols && span <= z * cols
            })
            .unwrap_or(ZOOMS.len() - 1);
        TimeView {
            start: align(from, ZOOMS[zoom]),
            zoom,
            columns,
        }
    }

    /// The same zoom, moved so that `at` sits in the middle.
    pub fn centred_on(&self, at: DateTime<Utc>) -> TimeView {
        let half = Duration::milliseconds(self.per_column() * i64::from(self.columns / 2));
        TimeView {
            start: align(at - half, self.per_column()),
            ..*self
        }
    }

    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.start <= at && at < self.end()
    }

    /// Column of an instant, clamped to the view (callers check `contains` when it matters).
    pub fn column_clamped(&self, at: DateTime<Utc>) -> u16 {
        let offset = (at - self.start)
            .num_milliseconds()
            .div_euclid(self.per_column());
        offset.clamp(0, i64::from(self.columns.max(1)) - 1) as u16
    }

    pub fn column_of(&self, at: DateTime<Utc>) -> Option<u16> {
        self.contains(at).then(|| self.column_clamped(at))
    }

    /// Columns an interval touches, or None when it is entirely outside the view.
    pub fn columns_of(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Option<(u16, u16)> {
        if to < self.start || from >= self.end() || self.columns == 0 {
            return None;
        }
        Some((self.column_clamped(from), self.column_clamped(to)))
    }
}

fn align(at: DateTime<Utc>, millis: i64) -> DateTime<Utc> {
    let ms = at.timestamp_millis();
    DateTime::from_timestamp_millis(ms - ms.rem_euclid(millis)).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
    }

    #[test]
    fn the_first_step_fits_the_history() {
        assert_eq!(STEPS[fitting_step(Duration::seconds(36))], 1, "the lab");
        assert_eq!(STEPS[fitting_step(Duration::seconds(5400))], 60);
        assert_eq!(STEPS[fitting_step(Duration::days(7))], 3600);
        assert_eq!(STEPS[fitting_step(Duration::days(400))], 86400);
        assert_eq!(STEPS[fitting_step(Duration::zero())], 1);
    }

    #[test]
    fn fitting_picks_the_narrowest_zoom_that_shows_everything() {
        let v = TimeView::fitting(t(0), t(3600), 100);
        assert_eq!(v.per_column(), 60_000);
        assert!(v.contains(t(0)) && v.contains(t(3600)));
        assert_eq!(v.start.timestamp() % 60, 0);
        let lab = TimeView::fitting(t(0), t(20), 152);
        assert_eq!(lab.per_column(), 200);
    }

    #[test]
    fn columns_of_intervals_are_clamped() {
        let v = TimeView::fitting(t(0), t(990), 100);
        assert_eq!(v.per_column(), 10_000);
        let first = v.column_of(t(0)).unwrap();
        assert_eq!(v.columns_of(t(-500), t(5)), Some((0, first)));
        assert_eq!(v.columns_of(t(5000), t(6000)), None);
        assert_eq!(v.columns_of(t(0), t(100_000)), Some((first, 99)));
    }

    #[test]
    fn short_durations() {
        assert_eq!(short_duration(1), "1s");
        assert_eq!(short_duration(600), "10m");
        assert_eq!(short_duration(21600), "6h");
        assert_eq!(short_duration(86400), "1d");
        assert_eq!(short_duration(90), "1m30s");
    }
}
