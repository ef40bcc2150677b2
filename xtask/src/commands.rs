//! The learner's commands (`list`, `check`, `hint`, `reset`, `progress`) and the maintainers'
//! `verify`. `watch` is in its own module and reuses [`check_one`].

use crate::compile::{self, Build, Target};
use crate::course::{Exercise, relative};
use crate::state::State;
use crate::testrun::{self, Stop, TestResult, Verdict};
use crate::ui::{Ui, bar};
use crate::usage;
use anyhow::{Context, Result};
use std::fs;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What checking an exercise found.
#[derive(Debug)]
pub enum Outcome {
    DoesNotCompile {
        /// The files the errors are in, relative to the workspace root.
        files: Vec<PathBuf>,
        /// The errors' text, and cargo's own if no compiler error explains the failure.
        messages: String,
    },
    Ran {
        results: Vec<TestResult>,
        /// Compiler warnings shown above the results.
        warnings: usize,
    },
}

impl Outcome {
    pub fn passed(&self) -> bool {
        matches!(self, Outcome::Ran { results, .. }
            if !results.is_empty() && results.iter().all(|r| r.verdict == Verdict::Passed))
    }
}

/// Where a check runs: the summary says what to do next accordingly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `cargo exercise check`: "run `cargo exercise check ID` again".
    Once,
    /// `cargo exercise watch`: "save the file to check again".
    Watch,
}

/// Builds and runs `ex`'s tests against `target`, echoing messages and results if `ui.echo`.
pub fn evaluate(root: &Path, ex: &Exercise, target: Target, ui: &Ui) -> Result<Outcome> {
    evaluate_until(root, ex, target, ui, Stop::Never)
}

/// [`evaluate`], stopping the tests as `stop` says.
pub fn evaluate_until(
    root: &Path,
    ex: &Exercise,
    target: Target,
    ui: &Ui,
    stop: Stop,
) -> Result<Outcome> {
    let build = compile::build(root, ex, target, ui)?;
    let files = build.error_files();
    match build {
        Build::Failed {
            shown,
            cargo_output,
        } => {
            let errors: String = shown
                .iter()
                .filter(|d| d.level == "error")
                .map(|d| compile::strip_ansi(&d.rendered))
                .collect();
            if errors.is_empty() && ui.echo {
                // No compiler message explains it (a broken manifest, a missing file): cargo's
                // own words are all there is, so show them whole.
                eprint!("{cargo_output}");
            }
            let messages = if errors.is_empty() {
                compile::strip_ansi(&cargo_output)
            } else {
                errors
            };
            Ok(Outcome::DoesNotCompile { files, messages })
        }
        Build::Built {
            executable,
            warnings,
            hidden,
        } => {
            if ui.echo && hidden > 0 {
                println!(
                    "{}",
                    ui.dim(&format!(
                        "({hidden} warnings about unused or unreachable code are hidden while \
                         your file still has a `todo!`.)"
                    ))
                );
            }
            let names = testrun::list(&executable)?;
            if ui.echo {
                println!();
            }
            let results = testrun::run_all(
                &executable,
                &root.join(&ex.package),
                &names,
                ex.deadline,
                stop,
                |r| {
                    if ui.echo {
                        print_result(ui, r);
                    }
                },
            )?;
            Ok(Outcome::Ran { results, warnings })
        }
    }
}

/// How many tests failed, and how many of those hung.
fn failures(results: &[TestResult]) -> (usize, usize) {
    let failed = results
        .iter()
        .filter(|r| r.verdict != Verdict::Passed)
        .count();
    let hung = results
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::Hung(_)))
        .count();
    (failed, hung)
}

fn print_result(ui: &Ui, r: &TestResult) {
    let (mark, note) = match &r.verdict {
        Verdict::Passed => (ui.green("ok  "), String::new()),
        Verdict::Failed => (ui.red("FAIL"), String::new()),
        Verdict::Hung(limit) => (
            ui.red("HUNG"),
            format!(
                ": did not finish in {} s (a deadlock, a lost message, or an endless loop?)",
                limit.as_secs()
            ),
        ),
    };
    println!("  {mark}  {}{note}", r.name);
    if r.verdict != Verdict::Passed && !r.output.is_empty() {
        for line in r.output.lines() {
            println!("        {line}");
        }
    }
    let _ = std::io::stdout().flush();
}

/// Checks one exercise against the learner's file, prints every message and result, then a
/// summary that says what to do next. Records a pass (or its loss) in the state file.
pub fn check_one(root: &Path, ex: &Exercise, ui: &Ui, mode: Mode) -> Result<bool> {
    println!(
        "{} {ex}: {}\n",
        ui.bold("Checking"),
        relative(root, &ex.stub)
    );
    if !ex.stub.is_file() {
        println!(
            "{} {ex}: your file {} is missing. `cargo exercise reset {}` puts the stub back.",
            ui.red("FAIL"),
            relative(root, &ex.stub),
            ex.id
        );
        State::load(root).update(&ex.id, |e| e.passed = false)?;
        return Ok(false);
    }
    let outcome = evaluate(root, ex, Target::Learner, ui)?;
    let passed = outcome.passed();
    let mut state = State::load(root);
    state.update(&ex.id, |e| e.passed = passed)?;
    let stub = relative(root, &ex.stub);
    println!();
    match &outcome {
        _ if passed => {
            let Outcome::Ran { results, warnings } = &outcome else {
                unreachable!("a pass has results")
            };
            println!(
                "{} {ex}: all {} tests pass.",
                ui.green("PASS"),
                results.len()
            );
            if *warnings > 0 {
                println!(
                    "The compiler left {warnings} warning(s) above: worth reading, they often \
                     point at code that does less than it seems."
                );
            }
            println!(
                "Compare with the reference solution, which has the same skeleton as your file:\n  \
                 diff -u {stub} {}",
                relative(root, &ex.solution)
            );
            if ex.miri {
                println!(
                    "This exercise is about memory orderings, and this machine's processor may \
                     forgive an ordering that is too weak.\n`cargo exercise check {} --miri` \
                     runs the same tests under Miri, which does not.",
                    ex.id
                );
                if !crate::mutants::miri_available() {
                    println!("(Miri is not installed here; once: {MIRI_INSTALL})");
                }
            }
            return Ok(true);
        }
        Outcome::DoesNotCompile { files, .. } => {
            let stub_path = PathBuf::from(&stub);
            let tests_path = PathBuf::from(relative(root, &ex.tests));
            if files.contains(&stub_path) {
                println!(
                    "{} {ex}: your file does not compile (the errors above).",
                    ui.red("FAIL")
                );
            } else if files.contains(&tests_path) {
                println!(
                    "{} {ex}: the tests do not compile against your file (the errors above are in \
                     {}).\nThey use the public items of the stub: keep their names and signatures as \
                     the stub has them\n(`cargo exercise reset {}` brings the stub back).",
                    ui.red("FAIL"),
                    tests_path.display(),
                    ex.id
                );
            } else if files.is_empty() {
                println!(
                    "{} {ex}: the build failed (cargo's message above).",
                    ui.red("FAIL")
                );
            } else {
                let list: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
                println!(
                    "{} {ex}: the build failed, with errors in {}.",
                    ui.red("FAIL"),
                    list.join(", ")
                );
            }
        }
        Outcome::Ran { results, .. } if results.is_empty() => {
            println!("{} {ex}: no tests ran.", ui.red("FAIL"));
        }
        Outcome::Ran { results, .. } => {
            let (failed, hung) = failures(results);
            let hung_note = match hung {
                0 => String::new(),
                n => format!(" ({n} did not finish)"),
            };
            println!(
                "{} {ex}: {failed} of {} tests fail{hung_note}; the messages above say why.",
                ui.red("FAIL"),
                results.len()
            );
        }
    }
    match mode {
        Mode::Once => println!(
            "Edit {stub}, then run `cargo exercise check {}` again.",
            ex.id
        ),
        Mode::Watch => println!("Edit {stub} and save it to check again."),
    }
    let hints = ex.hints()?;
    let seen = state.get(&ex.id).hints;
    if seen < hints.len() {
        let how = match mode {
            Mode::Once => format!("`cargo exercise hint {}`", ex.id),
            Mode::Watch => "type h and Enter".to_owned(),
        };
        println!("Stuck? {how} for hint {} of {}.", seen + 1, hints.len());
    }
    Ok(false)
}

/// The first exercise after `after` (from the start if `None`), wrapping around, whose last
/// check did not pass.
pub fn next_unfinished<'a>(
    exercises: &'a [Exercise],
    state: &State,
    after: Option<&str>,
) -> Option<&'a Exercise> {
    let start = after
        .and_then(|id| exercises.iter().position(|e| e.id == id))
        .map_or(0, |i| i + 1);
    exercises
        .iter()
        .cycle()
        .skip(start)
        .take(exercises.len())
        .find(|e| !state.passed(&e.id))
}

/// The exercise named by `id`, or the next unfinished one.
pub fn chosen<'a>(
    root: &Path,
    exercises: &'a [Exercise],
    id: Option<&str>,
) -> Result<Option<&'a Exercise>> {
    match id {
        Some(id) => crate::course::find(exercises, id)
            .map(Some)
            .map_err(|e| usage(e.to_string())),
        None => Ok(next_unfinished(exercises, &State::load(root), None)),
    }
}

pub fn check(root: &Path, exercises: &[Exercise], id: Option<&str>) -> Result<bool> {
    let ui = Ui::new(true);
    let Some(ex) = chosen(root, exercises, id)? else {
        println!(
            "Every exercise passed its last check. `cargo exercise check ID` checks one again;\n\
             `cargo exercise progress` checks them all."
        );
        return Ok(true);
    };
    if id.is_none() {
        println!("The next unfinished exercise is {}.", ex.id);
    }
    let passed = check_one(root, ex, &ui, Mode::Once)?;
    if passed {
        let state = State::load(root);
        match next_unfinished(exercises, &state, Some(&ex.id)) {
            Some(next) => println!(
                "Next: {next}, in {}: `cargo exercise check {}` (or just `cargo exercise check`).",
                relative(root, &next.stub),
                next.id
            ),
            None => {
                println!("That was the last unfinished exercise: all of them pass. Well played.")
            }
        }
    }
    Ok(passed)
}

/// `check ID --miri`: the exercise's tests against the learner's file, under Miri.
pub fn check_miri(root: &Path, exercises: &[Exercise], id: Option<&str>) -> Result<bool> {
    let ui = Ui::new(true);
    let Some(ex) = chosen(root, exercises, id)? else {
        println!(
            "Every exercise passed its last check: `cargo exercise check ID --miri` names one."
        );
        return Ok(true);
    };
    if !crate::mutants::miri_available() {
        println!(
            "{} Miri is not installed. Install it once with\n  {MIRI_INSTALL}\nthen run \
             `cargo exercise check {} --miri` again.",
            ui.red("FAIL"),
            ex.id
        );
        return Ok(false);
    }
    println!(
        "{} {ex} under Miri: {}\n(Miri interprets every memory access: slow, and it reports \
         a data race or undefined behaviour where the hardware would let it pass.)\n",
        ui.bold("Checking"),
        relative(root, &ex.stub)
    );
    let passed = crate::mutants::run_under_miri(root, ex, true)?.unwrap_or(false);
    if passed {
        println!(
            "\n{} {ex}: the tests pass under Miri too.",
            ui.green("PASS")
        );
    } else {
        println!(
            "\n{} {ex}: the tests fail under Miri (its messages above say where).",
            ui.red("FAIL")
        );
    }
    Ok(passed)
}

/// How to install Miri.
const MIRI_INSTALL: &str = "rustup component add --toolchain nightly miri rust-src";

pub fn list(root: &Path, exercises: &[Exercise]) {
    let state = State::load(root);
    println!("{}", list_row("   ", "id", "title", "file to edit"));
    for ex in exercises {
        let mark = if state.passed(&ex.id) { "[x]" } else { "[ ]" };
        println!(
            "{}",
            list_row(mark, &ex.id, &ex.title, &relative(root, &ex.stub))
        );
    }
    let done = exercises.iter().filter(|e| state.passed(&e.id)).count();
    println!(
        "\n[x]: passed its last check ({done} of {}). `cargo exercise progress` checks them all again.",
        exercises.len()
    );
}

/// The title column of `list`: wide enough for most titles; a longer one puts its file on a
/// line of its own, under the file column, so that every file starts at the same place.
const TITLE_WIDTH: usize = 28;

/// One exercise's row of `list`: its mark, id, title and file, in columns.
fn list_row(mark: &str, id: &str, title: &str, file: &str) -> String {
    if title.chars().count() <= TITLE_WIDTH {
        format!("{mark} {id:<9} {title:<TITLE_WIDTH$} {file}")
    } else {
        let indent = " ".repeat(mark.chars().count() + 1 + 9 + 1 + TITLE_WIDTH + 1);
        format!("{mark} {id:<9} {title}\n{indent}{file}")
    }
}

/// Shows the next hint of an exercise, and remembers that it was shown.
pub fn hint(root: &Path, exercises: &[Exercise], id: Option<&str>) -> Result<bool> {
    let Some(ex) = chosen(root, exercises, id)? else {
        println!("Every exercise passed its last check: `cargo exercise hint ID` for one of them.");
        return Ok(true);
    };
    show_next_hint(root, ex, &Ui::new(true))?;
    Ok(true)
}

/// Prints the next hint of `ex` (or all of them, once every one was shown).
pub fn show_next_hint(root: &Path, ex: &Exercise, ui: &Ui) -> Result<()> {
    let hints = ex.hints()?;
    let mut state = State::load(root);
    let seen = state.get(&ex.id).hints;
    let indent = |text: &str| {
        text.lines()
            .map(|l| format!("  {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    if seen >= hints.len() {
        println!(
            "{} {ex}: all {} were shown already:\n",
            ui.bold("Hints for"),
            hints.len()
        );
        for (i, h) in hints.iter().enumerate() {
            println!("{}.\n{}\n", i + 1, indent(h));
        }
        return Ok(());
    }
    println!(
        "{} {ex}:\n\n{}\n",
        ui.bold(&format!("Hint {} of {} for", seen + 1, hints.len())),
        indent(&hints[seen])
    );
    if seen + 1 < hints.len() {
        println!(
            "Hint {} of {} comes when you ask again.",
            seen + 2,
            hints.len()
        );
    } else {
        println!(
            "That was the last hint; the next step is the documentation it links, then the tests' messages."
        );
    }
    state.update(&ex.id, |e| e.hints = seen + 1)
}

/// Puts the stub back, after a confirmation (or `--yes`).
pub fn reset(root: &Path, exercises: &[Exercise], id: &str, yes: bool) -> Result<bool> {
    let ex = crate::course::find(exercises, id).map_err(|e| usage(e.to_string()))?;
    let stub = relative(root, &ex.stub);
    if ex.stub.is_file() && ex.is_pristine()? {
        println!("{stub} is the stub as shipped already: nothing to reset.");
        return Ok(true);
    }
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(usage(format!(
                "reset replaces {stub} and asks first; with no terminal to ask on, add --yes"
            )));
        }
        print!("Replace {stub} with the stub as shipped? Your changes to it are lost. [y/N] ");
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            println!("Nothing changed.");
            return Ok(true);
        }
    }
    fs::copy(&ex.pristine, &ex.stub)
        .with_context(|| format!("copying {} to {stub}", ex.pristine.display()))?;
    State::load(root).update(&ex.id, |e| *e = Default::default())?;
    println!("{stub} is the stub again; its hints start from the first.");
    Ok(true)
}

/// Checks every exercise against the learner's files: truthful, because it runs the tests.
pub fn progress(root: &Path, exercises: &[Exercise]) -> Result<bool> {
    let ui = Ui::new(false);
    println!("Checking every exercise against your files...\n");
    let mut state = State::load(root);
    let mut done = 0;
    for ex in exercises {
        if !ex.stub.is_file() {
            state.update(&ex.id, |e| e.passed = false)?;
            println!(
                "  [ ] {:<9} {:<28} {}",
                ex.id,
                ex.title,
                ui.red(&format!("missing: `cargo exercise reset {}`", ex.id))
            );
            continue;
        }
        let outcome = evaluate(root, ex, Target::Learner, &ui)?;
        let passed = outcome.passed();
        state.update(&ex.id, |e| e.passed = passed)?;
        let status = match &outcome {
            _ if passed => ui.green("done"),
            Outcome::DoesNotCompile { files, .. } => {
                let list: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
                match list.as_slice() {
                    [] => ui.red("does not compile"),
                    _ => ui.red(&format!("does not compile: errors in {}", list.join(", "))),
                }
            }
            _ if ex.is_pristine()? => "not started".to_owned(),
            Outcome::Ran { results, .. } => {
                let (failed, hung) = failures(results);
                let note = if hung > 0 { ", one or more hang" } else { "" };
                ui.yellow(&format!("{failed} of {} tests fail{note}", results.len()))
            }
        };
        if passed {
            done += 1;
        }
        println!(
            "  [{}] {:<9} {:<28} {status}",
            if passed { "x" } else { " " },
            ex.id,
            ex.title
        );
        std::io::stdout().flush()?;
    }
    println!(
        "\n{} {done} of {} done",
        bar(done, exercises.len(), 32),
        exercises.len()
    );
    match next_unfinished(exercises, &state, None) {
        Some(ex) => println!(
            "Next: {ex}: edit {}, then `cargo exercise check` (or `cargo exercise watch`).",
            relative(root, &ex.stub)
        ),
        None => println!("All done. Well played."),
    }
    Ok(true)
}

/// Maintainers: every stub is as shipped, fails every test naming its task; every solution
/// passes every test and has no `todo!`; every exercise has hints; every wrong answer in
/// `xtask/mutants/` fails at least one test. `ids` limits it to some exercises.
pub fn verify(root: &Path, all: &[Exercise], ids: &[&str]) -> Result<bool> {
    let chosen: Vec<Exercise> = if ids.is_empty() {
        all.to_vec()
    } else {
        ids.iter()
            .map(|id| crate::course::find(all, id).cloned())
            .collect::<Result<_>>()?
    };
    let exercises = chosen.as_slice();
    let mut problems: Vec<String> = crate::course::unlisted_stubs(root, all)?
        .iter()
        .map(|stub| {
            format!(
                "{} has no pristine copy under xtask/pristine/, so the runner does not list it",
                relative(root, stub)
            )
        })
        .collect();
    for ex in exercises {
        match crate::mutants::of(ex) {
            Ok(mutants) if mutants.len() < crate::mutants::MIN_PER_EXERCISE => {
                problems.push(format!(
                    "{ex}: {} wrong answer(s) in {}; at least {} are needed",
                    mutants.len(),
                    relative(root, &ex.mutants),
                    crate::mutants::MIN_PER_EXERCISE
                ))
            }
            Ok(_) => {}
            Err(e) => problems.push(format!("{ex}: {e:#}")),
        }
        if !ex.is_pristine()? {
            problems.push(format!(
                "{ex}: {} differs from its pristine copy {}. Verify checks the stubs as shipped: \
                 set an attempt aside (`git stash`), or, if the stub changed on purpose, copy it \
                 over the pristine one.",
                relative(root, &ex.stub),
                relative(root, &ex.pristine)
            ));
        }
    }
    if !problems.is_empty() {
        return report(&problems, exercises.len());
    }
    let lanes = VERIFY_LANES.min(exercises.len()).max(1);
    println!(
        "verifying {} exercise(s), {lanes} at a time; each one's findings appear when it is done",
        exercises.len()
    );
    let mut tally = Tally::default();
    for found in verify_in_lanes(root, exercises, lanes, |found| {
        for line in &found.lines {
            println!("{line}");
        }
        println!("verified {} in {:.1?}", found.exercise, found.elapsed);
    })? {
        problems.extend(found.problems);
        tally.written += found.tally.written;
        tally.caught += found.tally.caught;
        tally.unchecked += found.tally.unchecked;
    }
    println!(
        "\nwrong answers caught: {} of {}{}",
        tally.caught,
        tally.written,
        if tally.unchecked > 0 {
            format!(
                " (!!! {} not checked: they need Miri, which is not installed)",
                tally.unchecked
            )
        } else {
            String::new()
        }
    );
    report(&problems, exercises.len())
}

/// How many exercises `verify` checks at a time. Their tests spend most of their time waiting
/// (a wrong answer that hangs is caught only when a test's own time limit runs out, and some
/// tests wait out a reply timeout on purpose), so several at a time overlap those waits. On two
/// cores, all 20 exercises took 410 s one at a time (a cold CI run), 182 s three at a time and
/// 139 s four at a time (one run each, warm). Each exercise's tests still run as many at a time
/// as there are cores, and each wrong answer replaces only its own exercise's file, which no
/// other exercise's test compiles.
const VERIFY_LANES: usize = 4;

/// What verifying one exercise found.
#[derive(Debug)]
struct Verified {
    exercise: String,
    /// One line per wrong answer, for the report.
    lines: Vec<String>,
    problems: Vec<String>,
    tally: Tally,
    elapsed: std::time::Duration,
}

/// Verifies `exercises`, `lanes` at a time. `on_done` sees each exercise's findings in the
/// order of `exercises`, as soon as it and the ones before it are done. The first error stops
/// the lanes from starting another exercise, and is returned once the running ones end.
fn verify_in_lanes(
    root: &Path,
    exercises: &[Exercise],
    lanes: usize,
    mut on_done: impl FnMut(&Verified),
) -> Result<Vec<Verified>> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        for _ in 0..lanes {
            let tx = tx.clone();
            let (next, failed) = (&next, &failed);
            scope.spawn(move || {
                while !failed.load(Ordering::Relaxed) {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(ex) = exercises.get(index) else {
                        break;
                    };
                    let found = verify_exercise(root, ex);
                    if found.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    if tx.send((index, found)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut done: Vec<Option<Verified>> = exercises.iter().map(|_| None).collect();
        let mut reported = 0;
        let mut first_error = None;
        for (index, found) in rx {
            match found {
                Ok(found) => done[index] = Some(found),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
            while let Some(Some(found)) = done.get(reported) {
                on_done(found);
                reported += 1;
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(done.into_iter().flatten().collect()),
        }
    })
}

/// Verifies one exercise: its hints, its solution's and stub's text, its stub against its tests
/// (each fails naming the task), its solution (all pass), and each of its wrong answers (one
/// test at least fails).
fn verify_exercise(root: &Path, ex: &Exercise) -> Result<Verified> {
    let ui = Ui::new(false);
    let mut problems = Vec::new();
    let mut lines = Vec::new();
    let mut tally = Tally::default();
    let started = Instant::now();
    if ex.hints().is_err() {
        problems.push(format!(
            "{ex}: no numbered hints in {}",
            relative(root, &ex.hints)
        ));
    }
    if crate::course::contains_todo(&ex.solution)? {
        problems.push(format!(
            "{ex}: the solution {} contains `todo!`",
            relative(root, &ex.solution)
        ));
    }
    // Every edit point of a stub names its task, so a failing test says what to do.
    let stub_text = fs::read_to_string(&ex.stub)?;
    let todos = stub_text.matches("todo!(").count();
    // rustfmt may break a long `todo!(` call after its parenthesis.
    let named = stub_text
        .split("todo!(")
        .skip(1)
        .filter(|rest| rest.trim_start().starts_with(&format!("\"{}:", ex.id)))
        .count();
    if todos == 0 {
        problems.push(format!("{ex}: the stub has no `todo!` edit point"));
    } else if named != todos {
        problems.push(format!(
            "{ex}: {} of the stub's {todos} `todo!`s do not start with \"{}:\"",
            todos - named,
            ex.id
        ));
    }
    // Against the stub, every test fails, and each failure names the task.
    match evaluate(root, ex, Target::Learner, &ui)? {
        Outcome::Ran { results, .. } if results.is_empty() => {
            problems.push(format!("{ex}: no tests ran against the stub"))
        }
        Outcome::Ran { results, .. } => {
            for r in results {
                match r.verdict {
                    Verdict::Passed => {
                        problems.push(format!("{ex}: test `{}` passes against the stub", r.name))
                    }
                    Verdict::Hung(_) => {
                        problems.push(format!("{ex}: test `{}` hangs against the stub", r.name))
                    }
                    Verdict::Failed if !r.output.contains(&format!("{}:", ex.id)) => {
                        problems.push(format!(
                            "{ex}: test `{}` fails against the stub without naming \"{}:\":\n{}",
                            r.name, ex.id, r.output
                        ))
                    }
                    Verdict::Failed => {}
                }
            }
        }
        Outcome::DoesNotCompile { messages, .. } => {
            problems.push(format!("{ex}: the stub does not compile:\n{messages}"))
        }
    }
    // Against the solution, every test passes.
    match evaluate(root, ex, Target::Solution, &ui)? {
        o if o.passed() => {}
        Outcome::Ran { results, .. } => {
            for r in results.iter().filter(|r| r.verdict != Verdict::Passed) {
                problems.push(format!(
                    "{ex}: test `{}` {} against the solution:\n{}",
                    r.name,
                    if r.verdict == Verdict::Failed {
                        "fails"
                    } else {
                        "hangs"
                    },
                    r.output
                ));
            }
            if results.is_empty() {
                problems.push(format!("{ex}: no tests ran against the solution"));
            }
        }
        Outcome::DoesNotCompile { messages, .. } => {
            problems.push(format!("{ex}: the solution does not compile:\n{messages}"))
        }
    }
    // Against every wrong answer, at least one test fails.
    for mutant in crate::mutants::of(ex)? {
        use crate::mutants::Finding;
        tally.written += 1;
        let file = relative(root, &mutant.path);
        match crate::mutants::check(root, ex, &mutant)? {
            Finding::Caught(by) => {
                tally.caught += 1;
                lines.push(format!(
                    "  caught  {} ({}): by {by}",
                    mutant.name, mutant.kind
                ));
            }
            Finding::Missed => {
                lines.push(format!("  MISSED  {} ({})", mutant.name, mutant.kind));
                problems.push(format!(
                    "{ex}: the wrong answer {file} passes every test{}: {}",
                    if mutant.miri { ", under Miri too" } else { "" },
                    mutant.mistake
                ));
            }
            Finding::NotChecked => {
                tally.unchecked += 1;
                lines.push(format!(
                    "  !!! NOT CHECKED  {} ({}): only Miri can catch it, and Miri is not \
                     installed ({MIRI_INSTALL})",
                    mutant.name, mutant.kind
                ));
            }
            Finding::DoesNotCompile(messages) => {
                lines.push(format!(
                    "  BROKEN  {} ({}): does not compile",
                    mutant.name, mutant.kind
                ));
                // The compiler saw it in the learner's place: name the wrong answer's file.
                let messages = messages.replace(&relative(root, &ex.stub), &file);
                problems.push(format!(
                    "{ex}: the wrong answer {file} does not compile, so it proves \
                     nothing:\n{messages}"
                ));
            }
        }
    }
    Ok(Verified {
        exercise: ex.to_string(),
        lines,
        problems,
        tally,
        elapsed: started.elapsed(),
    })
}

/// How many wrong answers `verify` tried, and what became of them.
#[derive(Debug, Default)]
struct Tally {
    written: usize,
    caught: usize,
    unchecked: usize,
}

fn report(problems: &[String], count: usize) -> Result<bool> {
    if problems.is_empty() {
        println!(
            "\nAll {count} exercises: every stub fails each of its tests naming its task, every \
             solution passes them all, and every wrong answer fails at least one."
        );
        return Ok(true);
    }
    eprintln!("\n{} problem(s):", problems.len());
    for p in problems {
        eprintln!("- {p}");
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_of_the_list_starts_in_the_same_column_whatever_the_title() {
        let root = crate::course::workspace_root().unwrap();
        let all = Exercise::discover(&root).unwrap();
        assert!(
            all.iter().any(|ex| ex.title.chars().count() > TITLE_WIDTH),
            "a title longer than the column, to check the wrapped layout"
        );
        let header = list_row("   ", "id", "title", "file to edit");
        let column = header.find("file to edit").unwrap();
        for ex in &all {
            let file = relative(&root, &ex.stub);
            let row = list_row("[ ]", &ex.id, &ex.title, &file);
            let line = row.lines().find(|l| l.ends_with(&file)).unwrap();
            assert_eq!(line.find(&file), Some(column), "{row}");
            assert!(row.contains(&ex.title) && row.starts_with(&format!("[ ] {}", ex.id)));
        }
    }

    #[test]
    fn the_next_unfinished_exercise_wraps_around_and_skips_passes() {
        let root = crate::course::workspace_root().unwrap();
        let all = Exercise::discover(&root).unwrap();
        let dir = std::env::temp_dir().join(format!("xtask-next-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let mut state = State::load(&dir);
        assert_eq!(next_unfinished(&all, &state, None).unwrap().id, "l1-ex01");
        state.update("l1-ex01", |e| e.passed = true).unwrap();
        assert_eq!(next_unfinished(&all, &state, None).unwrap().id, "l1-ex02");
        let last = &all[all.len() - 1].id;
        assert_eq!(
            next_unfinished(&all, &state, Some(last)).unwrap().id,
            "l1-ex02",
            "after the last exercise the search starts again from the first"
        );
        for ex in &all {
            state.update(&ex.id, |e| e.passed = true).unwrap();
        }
        assert!(next_unfinished(&all, &state, None).is_none());
        fs::remove_dir_all(&dir).unwrap();
    }
}
