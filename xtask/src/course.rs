//! The course on disk: where the workspace is, and which exercises it holds.
//!
//! An exercise is found by name. For `level-1-basics/src/exercises/ex01_hello_worker.rs` (the
//! learner's file) there must be:
//!
//! - `level-1-basics/src/solutions/ex01_hello_worker.rs`, the reference solution;
//! - `level-1-basics/tests/ex01_hello_worker.rs`, its tests, which compile the learner's file
//!   into themselves under the level's `learner` feature;
//! - `level-1-basics/hints/ex01_hello_worker.md`, a numbered list of hints;
//! - `xtask/pristine/level-1-basics/ex01_hello_worker.rs`, the stub as shipped, which `reset`
//!   copies back (so it works without git, in a downloaded zip too).
//!
//! The pristine copies are the list of exercises: a learner who deletes or renames their file
//! still finds the exercise, with a way back (`reset`).
//!
//! For maintainers, `xtask/mutants/l1-ex01/*.rs` holds the exercise's wrong answers (see
//! `mutants.rs`), which `verify` proves its tests reject.

use anyhow::{Context, Result, bail, ensure};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long one test may run under `check` when its test file names no deadline of its own:
/// far longer than any test of a correct answer takes (well under 2 s, even on a busy 2-core
/// machine), short enough that a hang is reported while the learner still waits for it.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(5);

/// The environment variable that points the runner at another copy of the workspace (the
/// runner's own tests use it); by default the runner checks the workspace it was built in.
pub const WORKSPACE_VAR: &str = "EXERCISE_WORKSPACE";

/// The workspace root: `$EXERCISE_WORKSPACE`, or the one this runner was built from.
pub fn workspace_root() -> Result<PathBuf> {
    let root = match std::env::var_os(WORKSPACE_VAR) {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .context("xtask lives inside the workspace")?
            .to_path_buf(),
    };
    ensure!(
        root.join("Cargo.toml").is_file(),
        "no Cargo workspace at {}",
        root.display()
    );
    // Absolute and without `..`, so that the paths file watching reports compare with it.
    root.canonicalize()
        .with_context(|| format!("resolving {}", root.display()))
}

/// One exercise: its id (`l1-ex01`), title, crate and files.
#[derive(Debug, Clone)]
pub struct Exercise {
    pub id: String,
    pub title: String,
    /// The level's crate, which is also its folder (`level-1-basics`).
    pub package: String,
    /// File stem shared by stub, solution, tests and hints (`ex01_hello_worker`).
    pub stem: String,
    /// The learner's file.
    pub stub: PathBuf,
    pub solution: PathBuf,
    pub tests: PathBuf,
    pub hints: PathBuf,
    /// The stub as shipped.
    pub pristine: PathBuf,
    /// How long one of its tests may run under `check`.
    pub deadline: Duration,
    /// Whether its tests should also run under Miri (a test file header line `//! Miri: ...`):
    /// the exercise is about memory orderings, which x86-64 forgives and Miri does not.
    pub miri: bool,
    /// Its wrong answers, `xtask/mutants/<id>/*.rs`, which `verify` proves its tests reject.
    pub mutants: PathBuf,
}

impl fmt::Display for Exercise {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.id, self.title)
    }
}

impl Exercise {
    /// Finds every exercise, in level then number order, from the stubs as shipped
    /// (`xtask/pristine/level-*/ex*.rs`).
    pub fn discover(root: &Path) -> Result<Vec<Exercise>> {
        let mut found = Vec::new();
        let levels = read_dir_sorted(root)?
            .into_iter()
            .filter(|p| file_name(p).starts_with("level-") && p.join("Cargo.toml").is_file());
        for level_dir in levels {
            let package = file_name(&level_dir).to_owned();
            let level = package
                .strip_prefix("level-")
                .and_then(|rest| rest.split('-').next())
                .context("a level folder is named level-N-...")?
                .to_owned();
            let shipped = root.join("xtask/pristine").join(&package);
            if !shipped.is_dir() {
                continue;
            }
            for pristine in read_dir_sorted(&shipped)? {
                let Some(stem) = exercise_stem(&pristine) else {
                    continue;
                };
                let stub = level_dir.join("src/exercises").join(format!("{stem}.rs"));
                let number = stem
                    .get(2..4)
                    .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
                    .with_context(|| {
                        format!("{}: an exercise file is named exNN_name.rs", stub.display())
                    })?;
                let id = format!("l{level}-ex{number}");
                let ex = Exercise {
                    title: String::new(),
                    solution: level_dir.join("src/solutions").join(format!("{stem}.rs")),
                    tests: level_dir.join("tests").join(format!("{stem}.rs")),
                    hints: level_dir.join("hints").join(format!("{stem}.md")),
                    pristine,
                    deadline: DEFAULT_DEADLINE,
                    miri: false,
                    mutants: root.join("xtask/mutants").join(&id),
                    id,
                    package: package.clone(),
                    stem,
                    stub,
                };
                for (what, path) in [
                    ("solution", &ex.solution),
                    ("tests", &ex.tests),
                    ("hints", &ex.hints),
                    ("pristine stub", &ex.pristine),
                ] {
                    ensure!(
                        path.is_file(),
                        "{}: its {what} {} is missing",
                        ex.id,
                        path.display()
                    );
                }
                // The title comes from the pristine stub, so a learner's edit of the header
                // cannot break the runner.
                let title = title_of(&ex.pristine, &ex.id)?;
                let deadline = deadline_of(&ex.tests)?.unwrap_or(DEFAULT_DEADLINE);
                let miri = fs::read_to_string(&ex.tests)
                    .with_context(|| format!("reading {}", ex.tests.display()))?
                    .lines()
                    .any(|l| l.starts_with("//! Miri:"));
                found.push(Exercise {
                    title,
                    deadline,
                    miri,
                    ..ex
                });
            }
        }
        ensure!(
            !found.is_empty(),
            "no exercises found under {}",
            root.display()
        );
        Ok(found)
    }

    /// The hints, in order, from the exercise's `hints/*.md` (its numbered list).
    pub fn hints(&self) -> Result<Vec<String>> {
        let text = fs::read_to_string(&self.hints)
            .with_context(|| format!("reading {}", self.hints.display()))?;
        let hints = parse_hints(&text);
        ensure!(
            !hints.is_empty(),
            "{}: no numbered hints in {}",
            self.id,
            self.hints.display()
        );
        Ok(hints)
    }

    /// Whether the learner's file still has an edit point.
    pub fn has_todo(&self) -> Result<bool> {
        contains_todo(&self.stub)
    }

    /// Whether the learner's file is, byte for byte, the stub as shipped.
    pub fn is_pristine(&self) -> Result<bool> {
        let now =
            fs::read(&self.stub).with_context(|| format!("reading {}", self.stub.display()))?;
        let shipped = fs::read(&self.pristine)
            .with_context(|| format!("reading {}", self.pristine.display()))?;
        Ok(now == shipped)
    }
}

/// Exercise files in the levels' `src/exercises/` that have no pristine copy, so no exercise:
/// a maintainer's new stub that `verify` must not skip silently.
pub fn unlisted_stubs(root: &Path, exercises: &[Exercise]) -> Result<Vec<PathBuf>> {
    let mut unlisted = Vec::new();
    let levels = read_dir_sorted(root)?
        .into_iter()
        .filter(|p| file_name(p).starts_with("level-") && p.join("src/exercises").is_dir());
    for level_dir in levels {
        for file in read_dir_sorted(&level_dir.join("src/exercises"))? {
            if exercise_stem(&file).is_some() && !exercises.iter().any(|e| e.stub == file) {
                unlisted.push(file);
            }
        }
    }
    Ok(unlisted)
}

/// `ex01_hello_worker` for `.../ex01_hello_worker.rs`; `None` for other files.
fn exercise_stem(path: &Path) -> Option<String> {
    path.file_stem()
        .and_then(|s| s.to_str())
        .filter(|s| s.starts_with("ex") && path.extension().is_some_and(|e| e == "rs"))
        .map(str::to_owned)
}

/// Finds an exercise by id (`l1-ex01`, any case) or file stem (`ex01_hello_worker`).
pub fn find<'a>(exercises: &'a [Exercise], id: &str) -> Result<&'a Exercise> {
    let wanted = id.trim().to_ascii_lowercase();
    match exercises
        .iter()
        .find(|e| e.id == wanted || e.stem == wanted)
    {
        Some(ex) => Ok(ex),
        None => {
            let ids: Vec<&str> = exercises.iter().map(|e| e.id.as_str()).collect();
            bail!("no exercise `{id}`; the exercises are: {}", ids.join(", "))
        }
    }
}

/// The items of the first numbered list in `markdown`, each with its continuation lines
/// joined and its indentation kept.
fn parse_hints(markdown: &str) -> Vec<String> {
    let mut hints: Vec<String> = Vec::new();
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        let numbered = trimmed
            .split_once(". ")
            .filter(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .map(|(_, rest)| rest);
        match numbered {
            Some(rest) if line.len() == trimmed.len() => hints.push(rest.to_owned()),
            _ if line.starts_with(' ') && !trimmed.is_empty() => {
                if let Some(last) = hints.last_mut() {
                    last.push('\n');
                    last.push_str(trimmed);
                }
            }
            _ => {}
        }
    }
    hints
}

pub fn contains_todo(path: &Path) -> Result<bool> {
    Ok(fs::read_to_string(path)
        .with_context(|| format!("reading {}", path.display()))?
        .contains("todo!("))
}

/// The title from a stub's header line `//! # Exercise l1-ex01: hello worker`.
fn title_of(stub: &Path, id: &str) -> Result<String> {
    let text = fs::read_to_string(stub).with_context(|| format!("reading {}", stub.display()))?;
    let prefix = format!("//! # Exercise {id}: ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|t| t.trim().to_owned())
        .with_context(|| {
            format!(
                "{}: the first header line must be `{prefix}<title>`",
                stub.display()
            )
        })
}

/// A test file may give its tests more time than [`DEFAULT_DEADLINE`] with a header line
/// `//! Deadline: 30 s per test ...`.
fn deadline_of(tests: &Path) -> Result<Option<Duration>> {
    let text = fs::read_to_string(tests).with_context(|| format!("reading {}", tests.display()))?;
    let Some(rest) = text.lines().find_map(|l| l.strip_prefix("//! Deadline: ")) else {
        return Ok(None);
    };
    let seconds = rest
        .split_once(" s")
        .and_then(|(n, _)| n.trim().parse::<u64>().ok())
        .filter(|&n| n > 0)
        .with_context(|| {
            format!(
                "{}: write the deadline as `//! Deadline: N s per test`",
                tests.display()
            )
        })?;
    Ok(Some(Duration::from_secs(seconds)))
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut entries = fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<Vec<_>>>()?;
    entries.sort();
    Ok(entries)
}

fn file_name(path: &Path) -> &str {
    path.file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
}

/// `path` relative to `root`, for messages.
pub fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovers_the_exercises_of_this_workspace() {
        let root = workspace_root().unwrap();
        let all = Exercise::discover(&root).unwrap();
        let first = &all[0];
        assert_eq!(first.id, "l1-ex01");
        assert_eq!(first.title, "hello worker");
        assert_eq!(first.package, "level-1-basics");
        // Its tests' header raises the deadline: one test waits out a 5 s reply timeout.
        assert_eq!(first.deadline, Duration::from_secs(20));
        // Tests whose header says nothing get the default.
        let plain = all
            .iter()
            .find(|ex| {
                !fs::read_to_string(&ex.tests)
                    .unwrap()
                    .contains("//! Deadline: ")
            })
            .expect("an exercise whose tests keep the default deadline");
        assert_eq!(plain.deadline, DEFAULT_DEADLINE, "{plain}");
        assert!(find(&all, "L1-EX01").is_ok());
        assert!(find(&all, "ex01_hello_worker").is_ok());
        assert!(find(&all, "l9-ex99").is_err());
        for ex in &all {
            let hints = ex.hints().unwrap();
            assert!(hints.len() >= 2, "{ex}: {} hints", hints.len());
        }
    }

    #[test]
    fn hints_are_the_numbered_items_with_their_continuation_lines() {
        let md = "# Hints\n\nIntro line. 2. not a hint\n\n1. First, on\n   two lines.\n2. Second.\n10. Tenth.\n";
        assert_eq!(
            parse_hints(md),
            vec!["First, on\ntwo lines.", "Second.", "Tenth."]
        );
    }
}
