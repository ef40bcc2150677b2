//! One line of characters per thread.

use super::Recording;
use std::fmt::Write;

/// A distinct character for each label: its first character if still free, else the other
/// case of it, else another character of the name, else the first free letter or digit.
pub(super) fn letters(labels: &[&str]) -> Vec<char> {
    let mut used: Vec<char> = Vec::new();
    for label in labels {
        let first = label.chars().next();
        let swapped = first.and_then(|c| {
            let other: Vec<char> = if c.is_uppercase() {
                c.to_lowercase().collect()
            } else {
                c.to_uppercase().collect()
            };
            (other.len() == 1).then(|| other[0])
        });
        let spare = ('a'..='z').chain('A'..='Z').chain('0'..='9');
        let letter = first
            .into_iter()
            .chain(swapped)
            .chain(label.chars().filter(|c| c.is_alphanumeric()))
            .chain(spare)
            .find(|c| !c.is_whitespace() && !c.is_control() && *c != '.' && !used.contains(c))
            .unwrap_or('?');
        used.push(letter);
    }
    used
}

pub(super) fn render(recording: &Recording, width: usize) -> String {
    let labels = recording.labels();
    let letters = letters(&labels);
    // At least 1 ns: a zero wall has only zero-length spans, which cover no cell.
    let wall = recording.wall().as_nanos().max(1);
    let cells = width as u128;
    let name_width = recording
        .threads()
        .iter()
        .map(|row| row.name.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for row in recording.threads() {
        // busy[cell][label]: nanoseconds of that label within that cell.
        let mut busy = vec![vec![0_u128; labels.len()]; width];
        for span in &row.spans {
            let (start, end) = (span.start.as_nanos(), span.end.as_nanos());
            let label = labels.iter().position(|l| *l == span.label).unwrap_or(0);
            let mut cell = start * cells / wall;
            while cell < cells && cell * wall / cells < end {
                let (from, to) = (cell * wall / cells, (cell + 1) * wall / cells);
                let overlap = end.min(to).saturating_sub(start.max(from));
                busy[cell as usize][label] += overlap;
                cell += 1;
            }
        }
        let line: String = busy
            .iter()
            .map(|cell| {
                let best = (0..labels.len()).rev().max_by_key(|&l| cell[l]);
                match best {
                    Some(l) if cell[l] > 0 => letters[l],
                    _ => '.',
                }
            })
            .collect();
        let _ = writeln!(out, "{:<name_width$} |{line}|", row.name);
    }
    let legend: Vec<String> = labels
        .iter()
        .zip(&letters)
        .map(|(label, letter)| format!("{letter} {label}"))
        .collect();
    let _ = writeln!(
        out,
        "legend: {}{}. idle; {} cells over {:.3} ms",
        legend.join(", "),
        if legend.is_empty() { "" } else { ", " },
        width,
        recording.wall().as_secs_f64() * 1e3
    );
    out
}

#[cfg(test)]
mod tests {
    use super::letters;

    #[test]
    fn labels_that_start_alike_get_distinct_letters() {
        assert_eq!(letters(&["compute", "copy", "wait"]), ['c', 'C', 'w']);
        assert_eq!(letters(&["a", "A", "a1"]), ['a', 'A', '1']);
        assert_eq!(letters(&["", ".x"]), ['a', 'x']);
    }
}
