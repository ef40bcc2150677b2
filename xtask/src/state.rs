//! What the runner remembers between commands: which exercises passed their last check, and
//! how many hints of each were shown. One small text file at the workspace root,
//! `.exercise-state`, which `.gitignore` lists, so it never shows in `git status`.
//!
//! Each line is `ID key=value ...`, for example `l1-ex01 passed=1 hints=2`. A file that cannot
//! be read is treated as empty: losing it costs a hint counter, never an exercise.

use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

pub const FILE_NAME: &str = ".exercise-state";

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The exercise's last check passed.
    pub passed: bool,
    /// How many of its hints were shown.
    pub hints: usize,
}

#[derive(Debug)]
pub struct State {
    path: PathBuf,
    entries: BTreeMap<String, Entry>,
}

impl State {
    pub fn load(root: &Path) -> State {
        let path = root.join(FILE_NAME);
        let mut entries = BTreeMap::new();
        for line in fs::read_to_string(&path).unwrap_or_default().lines() {
            if line.starts_with('#') {
                continue;
            }
            let mut words = line.split_whitespace();
            let Some(id) = words.next() else { continue };
            let mut entry = Entry::default();
            for word in words {
                match word.split_once('=') {
                    Some(("passed", v)) => entry.passed = v == "1",
                    Some(("hints", v)) => entry.hints = v.parse().unwrap_or(0),
                    _ => {}
                }
            }
            entries.insert(id.to_owned(), entry);
        }
        State { path, entries }
    }

    pub fn get(&self, id: &str) -> Entry {
        self.entries.get(id).cloned().unwrap_or_default()
    }

    pub fn passed(&self, id: &str) -> bool {
        self.get(id).passed
    }

    /// Changes one exercise's entry and saves the file.
    pub fn update(&mut self, id: &str, change: impl FnOnce(&mut Entry)) -> Result<()> {
        change(self.entries.entry(id.to_owned()).or_default());
        self.save()
    }

    fn save(&self) -> Result<()> {
        let mut text =
            String::from("# cargo exercise: passed checks and hints shown. Safe to delete.\n");
        for (id, e) in &self.entries {
            text.push_str(&format!(
                "{id} passed={} hints={}\n",
                u8::from(e.passed),
                e.hints
            ));
        }
        // Written whole, then renamed over the old file: never half a file.
        let tmp = self.path.with_extension("tmp");
        fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
        fs::rename(&tmp, &self.path).with_context(|| format!("writing {}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_survive_a_save_and_a_load() {
        let dir = std::env::temp_dir().join(format!("xtask-state-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let mut state = State::load(&dir);
        assert_eq!(state.get("l1-ex01"), Entry::default());
        state.update("l1-ex01", |e| e.hints = 2).unwrap();
        state.update("l1-ex02", |e| e.passed = true).unwrap();
        let again = State::load(&dir);
        assert_eq!(
            again.get("l1-ex01"),
            Entry {
                passed: false,
                hints: 2
            }
        );
        assert!(again.passed("l1-ex02"));
        fs::remove_dir_all(&dir).unwrap();
    }
}
