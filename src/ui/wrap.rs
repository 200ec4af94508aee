//! Word wrapping of styled lines, for screens that scroll to a selected row and so must
//! know how many rows each line takes (ratatui's own wrap does not say).

use ratatui::style::Style;
use ratatui::text::{Line, Span};

/// `line` broken after spaces into rows of at most `width` characters, each row after the
/// first indented by `indent` spaces; the spans keep their styles. Only a word longer than a
/// row is cut.
pub fn wrap(line: Line<'static>, width: usize, indent: usize) -> Vec<Line<'static>> {
    let cells = cells(&line);
    if width == 0 || cells.len() <= width {
        return vec![line];
    }
    let indent = indent.min(width / 2);
    breaks(&cells, |(c, _)| *c == ' ', width, width - indent)
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let mut spans = Vec::new();
            if i > 0 && indent > 0 {
                spans.push(Span::raw(" ".repeat(indent)));
            }
            spans.extend(runs(&cells[r]));
            Line::from(spans).style(line.style)
        })
        .collect()
}

/// Where `items` break into rows of at most `first` (the first row) and `rest` items: after
/// the last space that fits, the space kept at the row's end so the rows join back whole;
/// only a word longer than a row is cut inside. At least one row, empty for no items.
pub fn breaks<T>(
    items: &[T],
    is_space: impl Fn(&T) -> bool,
    first: usize,
    rest: usize,
) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < items.len() || out.is_empty() {
        let room = if out.is_empty() { first } else { rest }.max(1);
        let mut end = (at + room).min(items.len());
        if end < items.len() {
            if let Some(space) = items[at..end].iter().rposition(&is_space) {
                if space > 0 {
                    end = at + space + 1;
                }
            }
        }
        out.push(at..end);
        at = end;
    }
    out
}

/// `line` as one row of at most `width` characters: when it is longer, it ends at the last
/// word that fits, followed by `…`, so a table row never shows half a word.
pub fn fit(line: Line<'static>, width: usize) -> Line<'static> {
    let cells = cells(&line);
    if width == 0 || cells.len() <= width {
        return line;
    }
    let room = width - 1;
    let end = match cells[..=room].iter().rposition(|(c, _)| *c == ' ') {
        // A break too far back would blank most of the row: cut the long word instead.
        Some(space) if space * 3 >= room * 2 => space,
        _ => room,
    };
    let mut spans = runs(&cells[..end]);
    let style = cells
        .get(end.saturating_sub(1))
        .map_or(Style::new(), |c| c.1);
    spans.push(Span::styled("…", style));
    Line::from(spans).style(line.style)
}

/// `text` in at most `width` characters, ending at a word with `…` when it is longer.
pub fn fit_text(text: &str, width: usize) -> String {
    fit(Line::raw(text.to_string()), width)
        .spans
        .iter()
        .map(|s| s.content.as_ref())
        .collect()
}

/// Lines wrapped at words to `width`, of which the last `rows` rows (a log's tail).
pub fn wrapped_tail(lines: Vec<Line<'static>>, width: usize, rows: usize) -> Vec<Line<'static>> {
    let mut out: Vec<Line<'static>> = lines.into_iter().flat_map(|l| wrap(l, width, 2)).collect();
    let overflow = out.len().saturating_sub(rows);
    out.drain(..overflow);
    out
}

/// A line's characters, each with its span's style.
fn cells(line: &Line<'static>) -> Vec<(char, Style)> {
    line.spans
        .iter()
        .flat_map(|s| s.content.chars().map(move |c| (c, s.style)))
        .collect()
}

/// Characters of one style joined back into spans.
fn runs(cells: &[(char, Style)]) -> Vec<Span<'static>> {
    let mut out: Vec<Span<'static>> = Vec::new();
    let mut text = String::new();
    let mut style = None;
    for (c, s) in cells {
        if style.is_some_and(|x| x != *s) {
            out.push(Span::styled(
                std::mem::take(&mut text),
                style.unwrap_or_default(),
            ));
        }
        style = Some(*s);
        text.push(*c);
    }
    if !text.is_empty() {
        out.push(Span::styled(text, style.unwrap_or_default()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::style::Modifier;

    fn text(l: &Line) -> String {
        l.spans.iter().map(|s| s.content.as_ref()).collect()
    }

    #[test]
    fn a_long_line_breaks_after_spaces_and_keeps_its_styles() {
        let bold = Style::new().add_modifier(Modifier::BOLD);
        let line = Line::from(vec![
            Span::styled(" RPO ", bold),
            Span::raw("not measured: the side restore did not reach the target"),
        ]);
        let rows = wrap(line, 30, 3);
        let texts: Vec<String> = rows.iter().map(text).collect();
        assert_eq!(
            texts,
            vec![
                " RPO not measured: the side ",
                "   restore did not reach the ",
                "   target"
            ]
        );
        assert!(texts.iter().all(|t| t.chars().count() <= 30));
        assert_eq!(rows[0].spans[0].style, bold);
        assert_eq!(rows[0].spans[1].style, Style::new());
    }

    #[test]
    fn a_row_too_long_ends_at_a_word_with_an_ellipsis() {
        let row =
            Line::raw("db2  down  cannot connect: error connecting to server: Connection refused");
        let got = text(&fit(row, 60));
        assert_eq!(
            got,
            "db2  down  cannot connect: error connecting to server:…"
        );
        assert!(got.chars().count() <= 60);
        let row = Line::raw("TL 2 000000020000000000000045000000020000000000000045");
        assert_eq!(text(&fit(row, 20)).chars().count(), 20);
        assert_eq!(text(&fit(Line::raw("short"), 20)), "short");
    }

    #[test]
    fn a_short_line_and_a_word_longer_than_a_row() {
        let rows = wrap(Line::raw("fits"), 10, 2);
        assert_eq!(rows.len(), 1);
        let rows = wrap(Line::raw("/var/lib/postgresql/15/main"), 10, 0);
        assert_eq!(
            rows.iter().map(text).collect::<String>(),
            "/var/lib/postgresql/15/main"
        );
        assert!(rows.iter().all(|r| text(r).chars().count() <= 10));
    }
}
