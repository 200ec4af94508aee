//! Sizes the model must know to prepare what the screen shows; `ui::layout` uses the same.

/// Borders around the timeline pane.
pub const TIMELINE_BORDERS: u16 = 2;
/// `TL 12 ` in front of each timeline row.
pub const TIMELINE_LABEL_WIDTH: u16 = 6;

/// Screen columns the time axis gets on a terminal `width` cells wide.
pub fn timeline_columns(width: u16) -> u16 {
    width
        .saturating_sub(TIMELINE_BORDERS + TIMELINE_LABEL_WIDTH)
        .max(1)
}

/// The help box's (width, height) on a terminal `width` x `height`.
pub fn help_box(width: u16, height: u16) -> (u16, u16) {
    (width.saturating_sub(2).min(100), height.saturating_sub(2))
}
