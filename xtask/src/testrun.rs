//! Running one exercise's tests: each test in a process of its own, under a deadline.
//!
//! One process per test means a test that hangs (a deadlock, a lost message, an endless loop)
//! is stopped after the exercise's deadline, reported by name, and costs nothing to the other
//! tests, whose results are all shown. The test binary is run directly, not through
//! `cargo test`, so no "to rerun pass `-p ...`" line points the learner at a command that would
//! test the reference solution instead of their file.

use anyhow::{Context, Result, bail};
use std::collections::VecDeque;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How one test ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    Failed,
    /// Stopped at the deadline.
    Hung(Duration),
}

#[derive(Debug, Clone)]
pub struct TestResult {
    pub name: String,
    pub verdict: Verdict,
    /// What the test printed (its panic message above all), without libtest's own lines.
    pub output: String,
}

/// The names of the tests in `executable`.
pub fn list(executable: &Path) -> Result<Vec<String>> {
    let out = Command::new(executable)
        .args(["--list", "--format", "terse"])
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("could not list the tests of {}", executable.display()))?;
    if !out.status.success() {
        bail!(
            "{} --list failed: {}",
            executable.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .map(str::to_owned)
        .collect())
}

/// When [`run_all`] may stop before every test has run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Run every test: a learner sees every result.
    Never,
    /// Stop at the first test that does not pass, killing the ones still running: one failure
    /// is all `verify` needs to know that a wrong answer is caught.
    AtFirstFailure,
}

/// Runs every test of `executable`, as many at a time as there are cores, each stopped at
/// `deadline`. `on_result` sees each result in the order of `names` as soon as it and the ones
/// before it are done. Returns the results, in that order: all of them, or with
/// [`Stop::AtFirstFailure`] those that finished before the first failure stopped the rest.
pub fn run_all(
    executable: &Path,
    package_dir: &Path,
    names: &[String],
    deadline: Duration,
    stop: Stop,
    mut on_result: impl FnMut(&TestResult),
) -> Result<Vec<TestResult>> {
    let stopped = Arc::new(AtomicBool::new(false));
    let queue: Arc<Mutex<VecDeque<(usize, String)>>> =
        Arc::new(Mutex::new(names.iter().cloned().enumerate().collect()));
    let parallel = thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(names.len().max(1));
    let (tx, rx) = mpsc::channel();
    let mut runners = Vec::new();
    for _ in 0..parallel {
        let queue = Arc::clone(&queue);
        let stopped = Arc::clone(&stopped);
        let tx = tx.clone();
        let executable = executable.to_path_buf();
        let package_dir = package_dir.to_path_buf();
        runners.push(thread::spawn(move || {
            while !stopped.load(Ordering::SeqCst) {
                let next = queue.lock().map(|mut q| q.pop_front());
                let Ok(Some((index, name))) = next else {
                    break;
                };
                let result = match run_one(&executable, &package_dir, &name, deadline, &stopped) {
                    Ok(Some(result)) => Ok(result),
                    // Stopped by another test's failure: nothing to report.
                    Ok(None) => continue,
                    Err(e) => Err(e),
                };
                if tx.send((index, result)).is_err() {
                    break;
                }
            }
        }));
    }
    drop(tx);

    let mut results: Vec<Option<TestResult>> = vec![None; names.len()];
    let mut reported = 0;
    for (index, result) in rx {
        let result = result?;
        if stop == Stop::AtFirstFailure && result.verdict != Verdict::Passed {
            stopped.store(true, Ordering::SeqCst);
        }
        results[index] = Some(result);
        while let Some(Some(done)) = results.get(reported) {
            on_result(done);
            reported += 1;
        }
    }
    for runner in runners {
        let _ = runner.join();
    }
    if stopped.load(Ordering::SeqCst) {
        return Ok(results.into_iter().flatten().collect());
    }
    results
        .into_iter()
        .map(|r| r.context("a test runner thread ended early"))
        .collect()
}

/// Runs the one test `name`, its stdout and stderr in one pipe so that they keep their order.
/// `None` if `stopped` was set while it ran (it is then killed).
fn run_one(
    executable: &Path,
    package_dir: &Path,
    name: &str,
    deadline: Duration,
    stopped: &AtomicBool,
) -> Result<Option<TestResult>> {
    let (mut reader, writer) = std::io::pipe().context("creating a pipe")?;
    let mut cmd = Command::new(executable);
    cmd.args(["--exact", name, "--nocapture", "--test-threads", "1"])
        // As `cargo test` runs a test: from its package's folder.
        .current_dir(package_dir)
        .env("CARGO_MANIFEST_DIR", package_dir)
        .stdin(Stdio::null())
        .stdout(writer.try_clone().context("duplicating a pipe")?)
        .stderr(writer);
    if std::env::var_os("RUST_BACKTRACE").is_none_or(|v| v.is_empty()) {
        cmd.env("RUST_BACKTRACE", "0");
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("could not start {}", executable.display()))?;
    // The command holds the pipe's writing end: drop it, or the reader never sees the end.
    drop(cmd);
    let collector = thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = reader.read_to_end(&mut bytes);
        bytes
    });
    let ended = wait_until(&mut child, Instant::now() + deadline, stopped)?;
    if ended == Ended::Stopped {
        let _ = collector.join();
        return Ok(None);
    }
    let output = String::from_utf8_lossy(&collector.join().unwrap_or_default()).into_owned();
    let mut shown = without_libtest_lines(&output, name);
    // A pass is libtest's word that the test passed, not only a zero exit status: code that
    // calls `std::process::exit(0)` ends the process before the test has finished.
    let verdict = match ended {
        Ended::Exited(true) if output.contains("test result: ok. 1 passed") => Verdict::Passed,
        Ended::Exited(true) => {
            shown.push_str(
                "\nthe test's process ended before the test finished (`std::process::exit`?)",
            );
            Verdict::Failed
        }
        Ended::Exited(false) => Verdict::Failed,
        Ended::Deadline | Ended::Stopped => Verdict::Hung(deadline),
    };
    Ok(Some(TestResult {
        name: name.to_owned(),
        verdict,
        output: shown.trim_start().to_owned(),
    }))
}

/// How a test's process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// By itself: whether it succeeded.
    Exited(bool),
    /// Killed at its deadline.
    Deadline,
    /// Killed because another test's failure stopped the run.
    Stopped,
}

/// Waits for `child` until `deadline`, or until `stopped` is set; then it is killed. A test
/// binary starts no processes of its own, so killing it ends the test.
fn wait_until(child: &mut Child, deadline: Instant, stopped: &AtomicBool) -> Result<Ended> {
    let mut nap = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Ended::Exited(status.success()));
        }
        let stop = stopped.load(Ordering::SeqCst);
        if stop || Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(if stop {
                Ended::Stopped
            } else {
                Ended::Deadline
            });
        }
        thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(20));
    }
}

/// The test's own output: libtest's "running 1 test", "test x ... ok", "failures:" and
/// summary lines removed, and leading and trailing blank lines. Paths through the tests folder
/// to the learner's file (`tests/../src/`) are shortened to the file's own path.
fn without_libtest_lines(output: &str, name: &str) -> String {
    let announce = format!("test {name} ... ");
    let libtest = |line: &str| {
        let t = line.trim();
        t == "running 1 test"
            || t == "running 0 tests"
            || t == "successes:"
            || t == "failures:"
            || t == "FAILED"
            || t == "ok"
            || t == name
            || t.starts_with("test result:")
            || t == format!("---- {name} stdout ----")
    };
    let kept: Vec<&str> = output
        .lines()
        // libtest announces the test without a newline; the test's output may follow it.
        .map(|l| l.strip_prefix(&announce).unwrap_or(l))
        .filter(|l| !libtest(l) && l.trim() != announce.trim())
        .collect();
    let start = kept
        .iter()
        .position(|l| !l.trim().is_empty())
        .unwrap_or(kept.len());
    let end = kept
        .iter()
        .rposition(|l| !l.trim().is_empty())
        .map_or(start, |e| e + 1);
    let mut out = kept[start..end]
        .join("\n")
        .replace("/tests/../src/", "/src/");
    // Two blank lines in a row say nothing.
    while out.contains("\n\n\n") {
        out = out.replace("\n\n\n", "\n\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtest_lines_are_removed_and_the_panic_kept() {
        let raw = "\nrunning 1 test\ntest greets ... thread 'greets' panicked at lvl/tests/../src/ex01.rs:12:5:\n\
                   not yet implemented: l1-ex01: build the greeting\n\
                   note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n\
                   FAILED\n\nfailures:\n\nfailures:\n    greets\n\n\
                   test result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 4 filtered out; finished in 0.00s\n\n";
        assert_eq!(
            without_libtest_lines(raw, "greets"),
            "thread 'greets' panicked at lvl/src/ex01.rs:12:5:\n\
             not yet implemented: l1-ex01: build the greeting\n\
             note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace"
        );
    }
}
