//! How the runner writes: in colour on a terminal, plain otherwise.

use std::io::IsTerminal;

/// Output settings for one command.
#[derive(Debug, Clone, Copy)]
pub struct Ui {
    /// ANSI colours (on a terminal, unless `NO_COLOR` is set or `CARGO_TERM_COLOR` says).
    pub color: bool,
    /// Print compiler messages and test results as they come (`check`, `watch`), or only
    /// collect them (`progress`, `verify`).
    pub echo: bool,
    /// stdout is a terminal: `watch` may clear the screen.
    pub terminal: bool,
}

impl Ui {
    pub fn new(echo: bool) -> Ui {
        let terminal = std::io::stdout().is_terminal();
        let color = match std::env::var("CARGO_TERM_COLOR").as_deref() {
            Ok("always") => true,
            Ok("never") => false,
            _ => terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        };
        Ui {
            color,
            echo,
            terminal,
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\u{1b}[{code}m{text}\u{1b}[0m")
        } else {
            text.to_owned()
        }
    }

    pub fn green(&self, text: &str) -> String {
        self.paint("1;32", text)
    }

    pub fn red(&self, text: &str) -> String {
        self.paint("1;31", text)
    }

    pub fn yellow(&self, text: &str) -> String {
        self.paint("1;33", text)
    }

    pub fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }

    pub fn dim(&self, text: &str) -> String {
        self.paint("2", text)
    }
}

/// A text bar: `[#######.............]`.
pub fn bar(done: usize, total: usize, width: usize) -> String {
    let filled = (done * width).checked_div(total).unwrap_or(0);
    format!("[{}{}]", "#".repeat(filled), ".".repeat(width - filled))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_bar_fills_in_proportion() {
        assert_eq!(super::bar(0, 16, 8), "[........]");
        assert_eq!(super::bar(8, 16, 8), "[####....]");
        assert_eq!(super::bar(16, 16, 8), "[########]");
        assert_eq!(super::bar(0, 0, 4), "[....]");
    }
}
