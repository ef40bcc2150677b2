//! The SVG Gantt chart, written by hand: one `<g class="row">` per thread, one
//! `<rect class="span">` per span.

use super::Recording;
use std::fmt::Write;

/// The Okabe-Ito palette, distinguishable with every common form of colour blindness; a
/// recording with more labels reuses the colours in order.
const PALETTE: [&str; 8] = [
    "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000",
];
const WIDTH: f64 = 960.0;
const ROW: f64 = 24.0;
const BAR: f64 = 16.0;
const TOP: f64 = 60.0;

/// `text` with XML's five special characters escaped, for element text and attribute values;
/// a control character XML 1.0 cannot hold even escaped (all but tab, line feed and carriage
/// return) becomes `?`. Public as [`escape_xml`](super::escape_xml).
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters are not allowed in XML 1.0, even escaped.
            c if c.is_control() && !matches!(c, '\n' | '\t' | '\r') => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

/// A round tick interval (1, 2 or 5 times a power of ten) giving about eight ticks over
/// `wall_ms`, and the decimals its labels need.
fn tick_step(wall_ms: f64) -> (f64, usize) {
    if wall_ms <= 0.0 {
        return (1.0, 0);
    }
    let raw = wall_ms / 8.0;
    let power = 10_f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * power);
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    (step, decimals)
}

pub(super) fn render(recording: &Recording) -> String {
    let rows = recording.threads();
    let labels = recording.labels();
    let wall_ms = recording.wall().as_secs_f64() * 1e3;
    let longest_name = rows
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(0);
    let left = (longest_name as f64 * 7.0 + 20.0).clamp(80.0, 240.0);
    let plot = WIDTH - left - 24.0;
    let x_of = |ms: f64| {
        left + if wall_ms > 0.0 {
            ms / wall_ms * plot
        } else {
            0.0
        }
    };
    let axis_y = TOP + rows.len() as f64 * ROW + 4.0;
    let legend_y = axis_y + 44.0;

    let mut legend = String::new();
    let (mut lx, mut ly) = (left, legend_y);
    for (i, label) in labels.iter().enumerate() {
        let item_width = 30.0 + label.chars().count() as f64 * 7.0;
        if lx + item_width > WIDTH && lx > left {
            (lx, ly) = (left, ly + 20.0);
        }
        let _ = write!(
            legend,
            r#"<rect x="{lx:.1}" y="{:.1}" width="12" height="12" fill="{}"/><text x="{:.1}" y="{ly:.1}">{}</text>"#,
            ly - 10.0,
            PALETTE[i % PALETTE.len()],
            lx + 16.0,
            escape(label)
        );
        legend.push('\n');
        lx += item_width;
    }
    let height = ly + 20.0;

    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0}" viewBox="0 0 {WIDTH} {height:.0}" font-family="sans-serif" font-size="12">"#
    );
    let spans: usize = rows.iter().map(|r| r.spans.len()).sum();
    let _ = writeln!(
        out,
        r#"<rect width="100%" height="100%" fill="white"/>
<text x="{left:.1}" y="24" font-size="16" font-weight="bold">{}</text>
<text x="{left:.1}" y="44">wall time {wall_ms:.3} ms, {} threads, {spans} spans; grey is idle</text>"#,
        escape(recording.title()),
        rows.len()
    );
    for row in rows {
        let y = TOP + row.index as f64 * ROW;
        let _ = writeln!(
            out,
            r##"<g class="row" data-thread="{0}"><text class="name" x="{1:.1}" y="{2:.1}" text-anchor="end">{0}</text><rect class="lane" x="{left:.1}" y="{3:.1}" width="{plot:.1}" height="{BAR}" fill="#EEEEEE"/>"##,
            escape(&row.name),
            left - 8.0,
            y + ROW / 2.0 + 4.0,
            y + (ROW - BAR) / 2.0,
        );
        for span in &row.spans {
            let (start, end) = (span.start.as_secs_f64() * 1e3, span.end.as_secs_f64() * 1e3);
            let colour = labels.iter().position(|l| *l == span.label).unwrap_or(0);
            let _ = writeln!(
                out,
                r#"<rect class="span" x="{:.2}" y="{:.1}" width="{:.2}" height="{BAR}" fill="{}"><title>{}: {start:.3} to {end:.3} ms ({:.3} ms)</title></rect>"#,
                x_of(start),
                y + (ROW - BAR) / 2.0,
                (x_of(end) - x_of(start)).max(0.5),
                PALETTE[colour % PALETTE.len()],
                escape(&span.label),
                end - start
            );
        }
        out.push_str("</g>\n");
    }
    let _ = writeln!(
        out,
        r#"<g class="axis"><line x1="{left:.1}" y1="{axis_y:.1}" x2="{:.1}" y2="{axis_y:.1}" stroke="black"/>"#,
        left + plot
    );
    let (step, decimals) = tick_step(wall_ms);
    let mut tick = 0.0;
    while tick <= wall_ms + step * 1e-9 {
        let x = x_of(tick);
        let _ = writeln!(
            out,
            r#"<line x1="{x:.2}" y1="{axis_y:.1}" x2="{x:.2}" y2="{:.1}" stroke="black"/><text x="{x:.2}" y="{:.1}" text-anchor="middle">{tick:.decimals$}</text>"#,
            axis_y + 5.0,
            axis_y + 18.0
        );
        tick += step;
        if wall_ms <= 0.0 {
            break;
        }
    }
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="end">time (ms)</text></g>"#,
        left + plot,
        axis_y + 32.0
    );
    out.push_str(&legend);
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_text_is_escaped() {
        assert_eq!(tick_step(100.0), (20.0, 0));
        assert_eq!(tick_step(8.0), (1.0, 0));
        assert_eq!(tick_step(0.4), (0.05, 2));
        assert_eq!(
            escape(r#"<a & "b" 'c'>"#),
            "&lt;a &amp; &quot;b&quot; &apos;c&apos;&gt;"
        );
    }
}
