//! The course's exercise runner, run as `cargo exercise ...` (an alias in `.cargo/config.toml`).
//!
//! ```text
//! cargo exercise list            every exercise, in order, with its file
//! cargo exercise check l1-ex01   run one exercise's tests against YOUR file
//! cargo exercise progress        which exercises pass, and which one is next
//! cargo exercise verify          maintainers: every stub fails its tests, every solution passes
//! ```
//!
//! Each exercise is three files, found by name: a stub `level-N-*/src/exercises/exNN_*.rs`,
//! its solution `level-N-*/src/solutions/exNN_*.rs`, and its tests
//! `level-N-*/tests/exNN_*.rs`. The tests call `under_test::exNN_*`, which is the solution in
//! a plain `cargo test` and the stub under the crate's `learner` feature.

use anyhow::{Context, Result, bail, ensure};
use std::env;
use std::fmt;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long one exercise's tests may run once built. Every test has its own 10 s timeouts;
/// this is the backstop that turns a hang in an attempt into a clear failure.
const TEST_RUN_LIMIT: Duration = Duration::from_secs(180);

const USAGE: &str = "\
usage: cargo exercise <command>

  list              list every exercise, in order, with the file to edit
  check <id>        run one exercise's tests against your file (e.g. `check l1-ex01`)
  progress          show which exercises pass and which one is next
  verify            (maintainers) every stub fails its tests, every solution passes";

fn main() -> ExitCode {
    match run(env::args().skip(1).collect()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs one command; `Ok(false)` means "ran, and found failures".
fn run(args: Vec<String>) -> Result<bool> {
    let root = workspace_root()?;
    let exercises = Exercise::discover(&root)?;
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["list"] => {
            list(&exercises);
            Ok(true)
        }
        ["check", id] => check(&root, find(&exercises, id)?),
        ["progress"] => progress(&root, &exercises),
        ["verify"] => verify(&root, &exercises),
        [] | ["help" | "--help" | "-h"] => {
            println!("{USAGE}");
            Ok(true)
        }
        _ => bail!("unknown command `{}`\n\n{USAGE}", args.join(" ")),
    }
}

/// One exercise: its id (`l1-ex01`), title, crate and files.
#[derive(Debug)]
struct Exercise {
    id: String,
    title: String,
    package: String,
    /// File stem shared by stub, solution and test (`ex01_hello_worker`).
    stem: String,
    stub: PathBuf,
    solution: PathBuf,
}

impl fmt::Display for Exercise {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.id, self.title)
    }
}

impl Exercise {
    /// Finds every exercise in `level-*/src/exercises/`, in level then number order.
    fn discover(root: &Path) -> Result<Vec<Exercise>> {
        let mut found = Vec::new();
        let mut levels: Vec<PathBuf> = read_dir_sorted(root)?
            .into_iter()
            .filter(|p| file_name(p).starts_with("level-") && p.join("Cargo.toml").is_file())
            .collect();
        levels.sort();
        for level_dir in levels {
            let package = file_name(&level_dir).to_owned();
            let level = package
                .strip_prefix("level-")
                .and_then(|rest| rest.split('-').next())
                .context("a level folder is named level-N-...")?
                .to_owned();
            let stubs = level_dir.join("src/exercises");
            if !stubs.is_dir() {
                continue;
            }
            for stub in read_dir_sorted(&stubs)? {
                let stem = match stub.file_stem().and_then(|s| s.to_str()) {
                    Some(s)
                        if s.starts_with("ex") && stub.extension().is_some_and(|e| e == "rs") =>
                    {
                        s.to_owned()
                    }
                    _ => continue,
                };
                let number = stem
                    .get(2..4)
                    .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
                    .with_context(|| {
                        format!("{}: an exercise file is named exNN_name.rs", stub.display())
                    })?;
                let id = format!("l{level}-ex{number}");
                let solution = level_dir.join("src/solutions").join(format!("{stem}.rs"));
                let test = level_dir.join("tests").join(format!("{stem}.rs"));
                ensure!(
                    solution.is_file(),
                    "{id}: the solution {} is missing",
                    solution.display()
                );
                ensure!(
                    test.is_file(),
                    "{id}: the tests {} are missing",
                    test.display()
                );
                let title = title_of(&stub, &id)?;
                found.push(Exercise {
                    id,
                    title,
                    package: package.clone(),
                    stem,
                    stub,
                    solution,
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

    /// `cargo test -p PKG --test STEM`, against the learner's stub or the solution.
    fn test_command(&self, root: &Path, target: Target) -> Command {
        let mut cmd = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        cmd.current_dir(root)
            .args(["test", "--package", &self.package, "--test", &self.stem]);
        if target == Target::Learner {
            cmd.args(["--features", "learner"]);
        }
        cmd
    }

    /// Runs this exercise's tests, building first; returns the outcome and the test output.
    fn run_tests(&self, root: &Path, target: Target, show: bool) -> Result<Outcome> {
        let mut build = self.test_command(root, target);
        build.args(["--no-run", "--quiet"]);
        if !show {
            build.stdout(Stdio::null()).stderr(Stdio::piped());
        }
        let built = build.output().context("could not run cargo")?;
        if !built.status.success() {
            return Ok(Outcome::DoesNotCompile(
                String::from_utf8_lossy(&built.stderr).into_owned(),
            ));
        }

        let mut cmd = self.test_command(root, target);
        cmd.arg("--quiet").env("RUST_BACKTRACE", "0");
        let (status, output) = run_with_limit(cmd, TEST_RUN_LIMIT, show)
            .with_context(|| format!("running the tests of {self}"))?;
        let Some(status) = status else {
            return Ok(Outcome::TimedOut);
        };
        let (passed, failed) = count_results(&output);
        Ok(Outcome::Ran {
            success: status,
            passed,
            failed,
            output,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Learner,
    Solution,
}

#[derive(Debug)]
enum Outcome {
    DoesNotCompile(String),
    TimedOut,
    Ran {
        success: bool,
        passed: usize,
        failed: usize,
        output: String,
    },
}

impl Outcome {
    fn all_pass(&self) -> bool {
        matches!(self, Outcome::Ran { success: true, passed, failed: 0, .. } if *passed > 0)
    }
}

fn list(exercises: &[Exercise]) {
    println!("{:<9} {:<28} file to edit", "id", "title");
    for ex in exercises {
        println!("{:<9} {:<28} {}", ex.id, ex.title, relative(&ex.stub));
    }
    println!(
        "\nCheck one with `cargo exercise check <id>`; see where you are with `cargo exercise progress`."
    );
}

fn check(root: &Path, ex: &Exercise) -> Result<bool> {
    println!("Checking {ex} against your file {}\n", relative(&ex.stub));
    let outcome = ex.run_tests(root, Target::Learner, true)?;
    println!();
    match outcome {
        o if o.all_pass() => {
            let Outcome::Ran { passed, .. } = o else {
                unreachable!()
            };
            println!("PASS {ex}: all {passed} tests pass.");
            if let Ok(all) = Exercise::discover(root)
                && let Some(next) = all.iter().skip_while(|e| e.id != ex.id).nth(1)
            {
                println!(
                    "Next: {next}, in {}: `cargo exercise check {}`",
                    relative(&next.stub),
                    next.id
                );
            }
            Ok(true)
        }
        Outcome::DoesNotCompile(_) => {
            println!(
                "FAIL {ex}: the {} crate does not compile (errors above). Every exercise of a level\n\
                 lives in one crate, so fix them before any of its exercises can be checked.",
                ex.package
            );
            Ok(false)
        }
        Outcome::TimedOut => {
            println!(
                "FAIL {ex}: the tests did not finish within {TEST_RUN_LIMIT:?}: a deadlock, or a thread that never ends?"
            );
            Ok(false)
        }
        Outcome::Ran { passed, failed, .. } => {
            println!(
                "FAIL {ex}: {failed} of {} tests fail; the messages above say why.",
                passed + failed
            );
            println!(
                "Edit {} and run `cargo exercise check {}` again.",
                relative(&ex.stub),
                ex.id
            );
            Ok(false)
        }
    }
}

fn progress(root: &Path, exercises: &[Exercise]) -> Result<bool> {
    println!("Running every exercise's tests against your files...\n");
    let mut next = None;
    let mut done = 0;
    for ex in exercises {
        let outcome = ex.run_tests(root, Target::Learner, false)?;
        let status = match &outcome {
            o if o.all_pass() => "done",
            Outcome::DoesNotCompile(_) => "does not compile",
            Outcome::TimedOut => "not done (tests hang)",
            Outcome::Ran { .. } if contains_todo(&ex.stub)? => "not started",
            Outcome::Ran { .. } => "not done",
        };
        if outcome.all_pass() {
            done += 1;
        } else if next.is_none() {
            next = Some(ex);
        }
        println!(
            "  [{}] {:<9} {:<28} {status}",
            if outcome.all_pass() { "x" } else { " " },
            ex.id,
            ex.title
        );
    }
    println!("\n{done} of {} exercises done.", exercises.len());
    match next {
        Some(ex) => println!(
            "Next: {ex}: edit {}, then run `cargo exercise check {}`",
            relative(&ex.stub),
            ex.id
        ),
        None => println!("All done. Well played."),
    }
    Ok(true)
}

fn verify(root: &Path, exercises: &[Exercise]) -> Result<bool> {
    ensure_stubs_untouched(root)?;
    let mut problems = Vec::new();
    for ex in exercises {
        let started = Instant::now();
        // 1. Solutions are complete.
        if contains_todo(&ex.solution)? {
            problems.push(format!(
                "{ex}: the solution {} contains `todo!`",
                relative(&ex.solution)
            ));
        }
        // 2. Every edit point of a stub names its task, so a failing test says what to do.
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
        // 3. Against the untouched stub, every test fails, and the failures name the task.
        match ex.run_tests(root, Target::Learner, false)? {
            Outcome::Ran {
                passed: 0,
                failed,
                output,
                ..
            } if failed > 0 => {
                if !output.contains(&format!("{}:", ex.id)) {
                    problems.push(format!(
                        "{ex}: the stub's test failures never mention \"{}:\"",
                        ex.id
                    ));
                }
            }
            Outcome::Ran { passed, failed, .. } => problems.push(format!(
                "{ex}: against the stub {passed} tests pass and {failed} fail; every test must fail"
            )),
            Outcome::DoesNotCompile(errors) => {
                problems.push(format!("{ex}: the stubs do not compile:\n{errors}"))
            }
            Outcome::TimedOut => problems.push(format!("{ex}: the tests hang against the stub")),
        }
        // 4. Against the solution, every test passes.
        match ex.run_tests(root, Target::Solution, false)? {
            o if o.all_pass() => {}
            Outcome::Ran {
                passed,
                failed,
                output,
                ..
            } => problems.push(format!(
                "{ex}: against the solution {passed} tests pass and {failed} fail:\n{output}"
            )),
            Outcome::DoesNotCompile(errors) => {
                problems.push(format!("{ex}: the solutions do not compile:\n{errors}"))
            }
            Outcome::TimedOut => {
                problems.push(format!("{ex}: the tests hang against the solution"))
            }
        }
        println!("verified {ex} in {:.1?}", started.elapsed());
    }
    if problems.is_empty() {
        println!(
            "\nAll {} exercises: every stub fails its tests naming its task, every solution passes.",
            exercises.len()
        );
        Ok(true)
    } else {
        eprintln!("\n{} problem(s):", problems.len());
        for p in &problems {
            eprintln!("- {p}");
        }
        Ok(false)
    }
}

/// `verify` must test the stubs as shipped, not a maintainer's half-done attempt.
fn ensure_stubs_untouched(root: &Path) -> Result<()> {
    let status = Command::new("git")
        .current_dir(root)
        .args(["status", "--porcelain", "--"])
        .args([
            "level-1-basics/src/exercises",
            "level-2-intermediate/src/exercises",
            "level-3-advanced/src/exercises",
        ])
        .output();
    match status {
        Ok(out) if out.status.success() => {
            let changed = String::from_utf8_lossy(&out.stdout);
            ensure!(
                changed.trim().is_empty(),
                "verify checks the stubs as committed, but these differ:\n{changed}\
                 Commit them, or set your attempts aside with `git stash`, and run verify again."
            );
        }
        _ => eprintln!("warning: git is not available; assuming the stubs are untouched"),
    }
    Ok(())
}

fn find<'a>(exercises: &'a [Exercise], id: &str) -> Result<&'a Exercise> {
    let wanted = id.trim().to_ascii_lowercase();
    exercises
        .iter()
        .find(|e| e.id == wanted || e.stem == wanted)
        .with_context(|| {
            let ids: Vec<&str> = exercises.iter().map(|e| e.id.as_str()).collect();
            format!("no exercise `{id}`; the exercises are: {}", ids.join(", "))
        })
}

/// Runs `cmd`, killing it after `limit`. Returns `None` on timeout, else whether it
/// succeeded, with its stdout and stderr (also echoed when `show`).
fn run_with_limit(mut cmd: Command, limit: Duration, show: bool) -> Result<(Option<bool>, String)> {
    #[cfg(unix)]
    {
        // Its own process group, so a timeout kills the test binary cargo started, too.
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().context("could not start cargo")?;
    let pipes = [
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    ];
    let readers: Vec<_> = pipes
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, mut pipe)| {
            thread::spawn(move || {
                let mut all = Vec::new();
                let mut buf = [0u8; 8192];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    if show {
                        let _ = if i == 0 {
                            std::io::stdout().write_all(&buf[..n])
                        } else {
                            std::io::stderr().write_all(&buf[..n])
                        };
                    }
                    all.extend_from_slice(&buf[..n]);
                }
                all
            })
        })
        .collect();

    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status.success());
        }
        if Instant::now() >= deadline {
            kill_tree(&mut child);
            break None;
        }
        thread::sleep(Duration::from_millis(20));
    };
    let mut output = String::new();
    for reader in readers {
        output.push_str(&String::from_utf8_lossy(&reader.join().unwrap_or_default()));
    }
    Ok((status, output))
}

fn kill_tree(child: &mut std::process::Child) {
    #[cfg(unix)]
    {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .status();
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Adds up libtest's `test result: ... N passed; M failed` lines.
fn count_results(output: &str) -> (usize, usize) {
    let mut totals = (0, 0);
    for line in output.lines().filter(|l| l.starts_with("test result:")) {
        let number_before = |word: &str| {
            line.split(';')
                .find_map(|part| {
                    part.trim()
                        .strip_suffix(word)
                        .and_then(|n| n.split_whitespace().last()?.parse::<usize>().ok())
                })
                .unwrap_or(0)
        };
        totals.0 += number_before(" passed");
        totals.1 += number_before(" failed");
    }
    totals
}

fn contains_todo(path: &Path) -> Result<bool> {
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

fn workspace_root() -> Result<PathBuf> {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = here
        .parent()
        .context("xtask lives inside the workspace")?
        .to_path_buf();
    ensure!(
        root.join("Cargo.toml").is_file(),
        "no workspace at {}",
        root.display()
    );
    Ok(root)
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

/// A path relative to the workspace root, for messages.
fn relative(path: &Path) -> String {
    workspace_root()
        .ok()
        .and_then(|root| {
            path.strip_prefix(root)
                .ok()
                .map(|p| p.display().to_string())
        })
        .unwrap_or_else(|| path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_libtest_summaries() {
        let out = "running 3 tests\n\
                   test result: FAILED. 1 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s\n";
        assert_eq!(count_results(out), (1, 2));
        assert_eq!(count_results("no summary"), (0, 0));
    }

    #[test]
    fn discovers_the_exercises_of_this_workspace() {
        let root = workspace_root().unwrap();
        let all = Exercise::discover(&root).unwrap();
        let first = &all[0];
        assert_eq!(first.id, "l1-ex01");
        assert_eq!(first.title, "hello worker");
        assert_eq!(first.package, "level-1-basics");
        assert!(find(&all, "L1-EX01").is_ok());
        assert!(find(&all, "l9-ex99").is_err());
    }
}
