//! The course's exercise runner, run as `cargo exercise ...` (an alias in `.cargo/config.toml`).
//! `cargo exercise help` lists the commands.
//!
//! Each exercise's tests compile the learner's file into themselves under the level's
//! `learner` feature (see `course.rs`), so a check builds that one file and nothing else of
//! the learner's: a half-finished exercise breaks only its own check. The runner prints every
//! compiler message as cargo would (`compile.rs`), runs each test in a process of its own
//! under a deadline (`testrun.rs`), and remembers passes and hints in `.exercise-state`
//! (`state.rs`).

mod commands;
mod compile;
mod course;
mod mutants;
mod state;
mod testrun;
mod ui;
mod watch;

use anyhow::Result;
use course::Exercise;
use std::env;
use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo exercise <command>

  watch [ID]        check the exercise each time you save, and move on when it passes
                    (keys, then Enter: h next hint, l list, q quit)
  check [ID]        run an exercise's tests against your file once
  hint [ID]         show the exercise's next hint, one at a time
  reset ID [--yes]  put the stub back, losing your changes (asks first, unless --yes)
  list              every exercise, in order, with the file to edit
  progress          check every exercise, and show how far you are
  check ID --miri   run an exercise's tests against your file under Miri, which sees
                    memory-ordering mistakes that x86-64 forgives (needs nightly Miri)
  verify [ID...]    (maintainers) every stub fails its tests naming its task, every
                    solution passes them, every wrong answer in xtask/mutants/ fails them

Without an ID, watch, check and hint take the next exercise that has not passed yet.
IDs look like l1-ex01.";

/// A mistake in how the runner was called: exit code 2, as for any command-line tool.
#[derive(Debug)]
pub struct UsageError(String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

pub fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}

fn main() -> ExitCode {
    match run(env::args().skip(1).collect()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) if e.is::<UsageError>() => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one command; `Ok(false)` means "ran, and found failures".
fn run(args: Vec<String>) -> Result<bool> {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    if let [] | ["help" | "--help" | "-h"] = words.as_slice() {
        println!("{USAGE}");
        return Ok(true);
    }
    let root = course::workspace_root()?;
    let exercises = Exercise::discover(&root)?;
    match words.as_slice() {
        ["list"] => {
            commands::list(&root, &exercises);
            Ok(true)
        }
        ["check"] => commands::check(&root, &exercises, None),
        ["check", "--miri"] => commands::check_miri(&root, &exercises, None),
        ["check", id, "--miri"] | ["check", "--miri", id] => {
            commands::check_miri(&root, &exercises, Some(id))
        }
        ["check", id] => commands::check(&root, &exercises, Some(id)),
        ["watch"] => watch::watch(&root, &exercises, None),
        ["watch", id] => watch::watch(&root, &exercises, Some(id)),
        ["hint"] => commands::hint(&root, &exercises, None),
        ["hint", id] => commands::hint(&root, &exercises, Some(id)),
        ["reset", id] => commands::reset(&root, &exercises, id, false),
        ["reset", id, "--yes" | "-y"] | ["reset", "--yes" | "-y", id] => {
            commands::reset(&root, &exercises, id, true)
        }
        ["reset"] => Err(usage(
            "reset needs an exercise id (it replaces your file): `cargo exercise reset l1-ex01`",
        )),
        ["progress"] => commands::progress(&root, &exercises),
        ["verify", ids @ ..] => commands::verify(&root, &exercises, ids),
        _ => Err(usage(format!(
            "unknown command `{}`; `cargo exercise help` lists the commands",
            args.join(" ")
        ))),
    }
}
