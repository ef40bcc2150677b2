//! The course's own mutation suite: wrong answers that each exercise's tests must reject.
//!
//! `xtask/mutants/l1-ex01/01-greeting-made-on-the-caller.rs` is a complete answer to exercise
//! l1-ex01, its reference solution with one realistic mistake, and its first line says which:
//!
//! ```text
//! //! Wrong answer (work on the caller): the caller builds the greeting; the worker only sends it.
//! ```
//!
//! The kind in brackets is one of [`KINDS`]. `(ordering, Miri)` marks a memory-ordering mistake
//! that only Miri can see (x86-64 forgives it): its tests run under Miri too. `verify` puts each
//! wrong answer in the learner's place in turn, runs the exercise's tests until one fails, and
//! puts the stub as shipped back afterwards, whatever happens. A wrong answer that passes every
//! test, or that does not compile, is a problem to fix: in the tests, or in the wrong answer.

use crate::commands::{Outcome, evaluate_until};
use crate::compile::Target;
use crate::course::{Exercise, relative};
use crate::testrun::{Stop, Verdict};
use crate::ui::Ui;
use anyhow::{Context, Result, bail};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The kinds of mistake a wrong answer may make.
pub const KINDS: &[&str] = &[
    "work on the caller",
    "never joined",
    "promise not kept",
    "race",
    "sequential",
    "ordering",
    "swallowed panic",
    "other",
];

/// The fewest wrong answers an exercise may have.
pub const MIN_PER_EXERCISE: usize = 4;

/// How long the tests of one wrong answer may run under Miri.
const MIRI_TIMEOUT: Duration = Duration::from_secs(900);

/// One wrong answer.
#[derive(Debug, Clone)]
pub struct Mutant {
    pub path: PathBuf,
    /// The file's name without `.rs`.
    pub name: String,
    /// One of [`KINDS`].
    pub kind: String,
    /// Only Miri can catch it.
    pub miri: bool,
    /// The mistake, as its first line says it.
    pub mistake: String,
}

/// The wrong answers of `ex`, in file order (none if it has no folder).
pub fn of(ex: &Exercise) -> Result<Vec<Mutant>> {
    if !ex.mutants.is_dir() {
        return Ok(Vec::new());
    }
    let mut paths: Vec<PathBuf> = fs::read_dir(&ex.mutants)
        .with_context(|| format!("reading {}", ex.mutants.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    paths.retain(|p| p.extension().is_some_and(|e| e == "rs"));
    paths.sort();
    paths.into_iter().map(|p| parse(&p)).collect()
}

/// Reads a wrong answer's first line: `//! Wrong answer (KIND): the mistake.`
fn parse(path: &Path) -> Result<Mutant> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let first = text.lines().next().unwrap_or_default();
    let Some((kind, mistake)) = first
        .strip_prefix("//! Wrong answer (")
        .and_then(|rest| rest.split_once("): "))
    else {
        bail!(
            "{}: the first line must be `//! Wrong answer (KIND): the mistake.`",
            path.display()
        );
    };
    let (kind, miri) = match kind.strip_suffix(", Miri") {
        Some(kind) => (kind, true),
        None => (kind, false),
    };
    if !KINDS.contains(&kind) {
        bail!(
            "{}: `{kind}` is not a kind of mistake; the kinds are: {}",
            path.display(),
            KINDS.join(", ")
        );
    }
    Ok(Mutant {
        name: path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        path: path.to_path_buf(),
        kind: kind.to_owned(),
        miri,
        mistake: mistake.trim().to_owned(),
    })
}

/// What the tests made of a wrong answer.
#[derive(Debug)]
pub enum Finding {
    /// A test failed or hung: its name and how.
    Caught(String),
    /// Every test passed.
    Missed,
    /// Miri is needed and not installed.
    NotChecked,
    /// It does not compile: the compiler's errors.
    DoesNotCompile(String),
}

/// Puts a wrong answer in the learner's place until dropped; then the stub as shipped.
struct InPlace<'a> {
    ex: &'a Exercise,
}

impl<'a> InPlace<'a> {
    fn new(ex: &'a Exercise, mutant: &Mutant) -> Result<Self> {
        fs::copy(&mutant.path, &ex.stub)
            .with_context(|| format!("copying {} over the stub", mutant.path.display()))?;
        Ok(Self { ex })
    }
}

impl Drop for InPlace<'_> {
    fn drop(&mut self) {
        if let Err(e) = fs::copy(&self.ex.pristine, &self.ex.stub) {
            eprintln!(
                "error: could not put the stub back ({e}); run `cargo exercise reset {} --yes`",
                self.ex.id
            );
        }
    }
}

/// Runs `ex`'s tests against `mutant` until one fails (then under Miri, for a Miri mutant that
/// the plain tests let through).
pub fn check(root: &Path, ex: &Exercise, mutant: &Mutant) -> Result<Finding> {
    let _in_place = InPlace::new(ex, mutant)?;
    let quiet = Ui::new(false);
    match evaluate_until(root, ex, Target::Learner, &quiet, Stop::AtFirstFailure)? {
        Outcome::DoesNotCompile { messages, .. } => Ok(Finding::DoesNotCompile(messages)),
        Outcome::Ran { results, .. } => {
            if let Some(r) = results.iter().find(|r| r.verdict != Verdict::Passed) {
                let how = if matches!(r.verdict, Verdict::Hung(_)) {
                    "HUNG"
                } else {
                    "FAIL"
                };
                return Ok(Finding::Caught(format!("`{}` ({how})", r.name)));
            }
            if results.is_empty() {
                bail!(
                    "{ex}: no tests ran against {}",
                    relative(root, &mutant.path)
                );
            }
            if !mutant.miri {
                return Ok(Finding::Missed);
            }
            match run_under_miri(root, ex, false)? {
                None => Ok(Finding::NotChecked),
                Some(true) => Ok(Finding::Missed),
                Some(false) => Ok(Finding::Caught("the tests under Miri".to_owned())),
            }
        }
    }
}

/// Whether nightly Miri is installed.
pub fn miri_available() -> bool {
    Command::new("cargo")
        .args(["+nightly", "miri", "--version"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `ex`'s tests against the learner's file under Miri: `Some(passed)`, or `None` if Miri
/// is not installed. `echo` shows Miri's output as it comes; otherwise it is kept quiet.
pub fn run_under_miri(root: &Path, ex: &Exercise, echo: bool) -> Result<Option<bool>> {
    if !miri_available() {
        return Ok(None);
    }
    let mut cmd = Command::new("cargo");
    cmd.args(["+nightly", "miri", "test", "--package", &ex.package])
        .args(["--test", &ex.stem, "--features", "learner"])
        .current_dir(root)
        .stdin(Stdio::null());
    if !echo {
        cmd.arg("--quiet")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
    }
    let mut child = cmd.spawn().context("could not start cargo miri")?;
    let deadline = Instant::now() + MIRI_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status.success()));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "{ex}: the tests under Miri did not finish within {} s",
                MIRI_TIMEOUT.as_secs()
            );
        }
        thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(first_line: &str) -> Result<Mutant> {
        // One folder per call: the tests run at the same time.
        static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("xtask-mutants-{}-{call}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("01-example.rs");
        fs::write(&path, format!("{first_line}\npub fn f() {{}}\n")).unwrap();
        let result = parse(&path);
        fs::remove_dir_all(&dir).unwrap();
        result
    }

    #[test]
    fn the_first_line_gives_the_kind_and_the_mistake() {
        let m = parsed("//! Wrong answer (race): the count is a load then a store.").unwrap();
        assert_eq!((m.kind.as_str(), m.miri), ("race", false));
        assert_eq!(m.mistake, "the count is a load then a store.");
        assert_eq!(m.name, "01-example");
        let m = parsed("//! Wrong answer (ordering, Miri): Relaxed on unlock.").unwrap();
        assert_eq!((m.kind.as_str(), m.miri), ("ordering", true));
    }

    #[test]
    fn a_malformed_first_line_or_an_unknown_kind_is_an_error() {
        for bad in [
            "//! A wrong answer.",
            "//! Wrong answer: no kind.",
            "//! Wrong answer (typo): x.",
        ] {
            assert!(parsed(bad).is_err(), "{bad}");
        }
    }
}
