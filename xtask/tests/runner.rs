//! Tests of the exercise runner itself, run the way a learner runs it, on copies of level 1.
//!
//! Each test works on a copy of the workspace (`shared`, `level-1-basics` and the pristine
//! stubs) under cargo's scratch folder for tests, edits a learner's file there as a learner
//! would, and runs the runner's binary on it (`EXERCISE_WORKSPACE` points it at the copy).
//! The tests that build share one copy, one at a time: two copies of a workspace in one target
//! folder would overwrite each other's test binaries (cargo names them by the path inside the
//! workspace), and one copy builds its dependencies once. The copy keeps its place between
//! runs and only changed files are rewritten, so after the first run the builds are
//! incremental. Every wait has a timeout; none decides a result.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, mpsc};
use std::thread;
use std::time::{Duration, Instant};

/// Long enough for a cold build of `shared` and level 1 on a busy 2-core machine.
const BUILD_TIMEOUT: Duration = Duration::from_secs(900);

const EX01: &str = "level-1-basics/src/exercises/ex01_hello_worker.rs";
const EX01_SOLUTION: &str = "level-1-basics/src/solutions/ex01_hello_worker.rs";
const EX02: &str = "level-1-basics/src/exercises/ex02_number_processor.rs";
const EX04: &str = "level-1-basics/src/exercises/ex04_error_recovery.rs";
const EX04_SOLUTION: &str = "level-1-basics/src/solutions/ex04_error_recovery.rs";

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A copy of the workspace holding level 1 only, with its exercises as shipped.
struct Workspace {
    root: PathBuf,
}

/// The copy the building tests share, and the right to use it.
fn build_workspace() -> (MutexGuard<'static, ()>, Workspace) {
    static BUILDS: Mutex<()> = Mutex::new(());
    // A test that failed while holding the lock leaves the copy as the next one resets it.
    let turn = BUILDS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    (turn, Workspace::new("build"))
}

impl Workspace {
    fn new(name: &str) -> Workspace {
        let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join("runner-tests");
        let root = scratch.join(name);
        let repo = repository();
        for dir in [
            "shared",
            "level-1-basics",
            "xtask/pristine/level-1-basics",
            ".cargo",
        ] {
            sync(&repo.join(dir), &root.join(dir));
        }
        sync(&repo.join("Cargo.lock"), &root.join("Cargo.lock"));
        let manifest = fs::read_to_string(repo.join("Cargo.toml")).unwrap();
        let start = manifest
            .find("members = [")
            .expect("the workspace lists its members");
        let end = start + manifest[start..].find(']').unwrap() + 1;
        let manifest = format!(
            "{}members = [\"shared\", \"level-1-basics\"]{}",
            &manifest[..start],
            &manifest[end..]
        );
        write_if_changed(&root.join("Cargo.toml"), manifest.as_bytes());
        let _ = fs::remove_file(root.join(".exercise-state"));
        Workspace { root }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    fn read(&self, relative: &str) -> String {
        fs::read_to_string(self.path(relative)).unwrap()
    }

    fn write(&self, relative: &str, text: &str) {
        fs::write(self.path(relative), text).unwrap();
    }

    /// A command run in the copy, building in the copy's own target folder.
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(&self.root)
            .env("EXERCISE_WORKSPACE", &self.root)
            .env("CARGO_TARGET_DIR", self.root.join("target"))
            .env("CARGO_TERM_COLOR", "never")
            .env_remove("RUST_BACKTRACE");
        cmd
    }

    fn xtask(&self, args: &[&str]) -> Command {
        let mut cmd = self.command(env!("CARGO_BIN_EXE_xtask"));
        cmd.args(args);
        cmd
    }

    fn cargo(&self, args: &[&str]) -> Command {
        let mut cmd = self.command(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        cmd.args(args);
        cmd
    }
}

/// Copies `from` to `to`, rewriting only files whose bytes differ (so cargo sees unchanged
/// files as unchanged), and skipping build folders.
fn sync(from: &Path, to: &Path) {
    if from.is_dir() {
        fs::create_dir_all(to).unwrap();
        for entry in fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            if entry.file_name() != "target" {
                sync(&entry.path(), &to.join(entry.file_name()));
            }
        }
    } else {
        write_if_changed(to, &fs::read(from).unwrap());
    }
}

fn write_if_changed(path: &Path, bytes: &[u8]) {
    if fs::read(path).ok().as_deref() != Some(bytes) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
    }
}

/// Runs `cmd` to its end with stdin closed, stdout and stderr in one pipe; fails the test if it
/// is still running after `timeout`. Returns the exit code and the output.
fn run(mut cmd: Command, timeout: Duration) -> (i32, String) {
    let (mut reader, writer) = std::io::pipe().unwrap();
    cmd.stdin(Stdio::null())
        .stdout(writer.try_clone().unwrap())
        .stderr(writer);
    let mut child = cmd.spawn().unwrap();
    drop(cmd);
    let collector = thread::spawn(move || {
        let mut out = String::new();
        let _ = reader.read_to_string(&mut out);
        out
    });
    let code = wait_within(&mut child, timeout);
    let output = collector.join().unwrap();
    (
        code.unwrap_or_else(|| panic!("no exit code; output:\n{output}")),
        output,
    )
}

/// The exit code of `child`, which must end within `timeout` (else it is killed and the test
/// fails).
fn wait_within(child: &mut Child, timeout: Duration) -> Option<i32> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the command did not end within {timeout:?}");
        }
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_compile_error_is_shown_whole_and_breaks_nothing_but_its_own_check() {
    let (_turn, ws) = build_workspace();
    // ex02 half done and broken; ex01 finished.
    let broken = ws
        .read(EX02)
        .replacen("todo!(", "undefined_fn();\n    todo!(", 1);
    ws.write(EX02, &broken);
    ws.write(EX01, &ws.read(EX01_SOLUTION));

    let (code, out) = run(ws.xtask(&["check", "l1-ex02"]), BUILD_TIMEOUT);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("error[E0425]: cannot find function `undefined_fn` in this scope"),
        "rustc's message is shown:\n{out}"
    );
    assert!(
        out.contains(&format!("--> {EX02}:")),
        "with the learner's file and line:\n{out}"
    );
    assert!(
        out.contains("FAIL l1-ex02 (number processor): your file does not compile"),
        "{out}"
    );
    assert!(
        !out.contains("to rerun pass"),
        "no cargo rerun hint that tests the solution:\n{out}"
    );

    let (code, out) = run(ws.xtask(&["check", "l1-ex01"]), BUILD_TIMEOUT);
    assert_eq!(
        code, 0,
        "a finished ex01 passes whatever ex02 holds:\n{out}"
    );
    assert!(
        out.contains("PASS l1-ex01 (hello worker): all 8 tests pass."),
        "{out}"
    );
    assert!(
        out.contains(&format!("diff -u {EX01} {EX01_SOLUTION}")),
        "{out}"
    );

    let (code, out) = run(
        ws.cargo(&["run", "--quiet", "--example", "l1-01-basic-worker"]),
        BUILD_TIMEOUT,
    );
    assert_eq!(
        code, 0,
        "a lesson of the level still builds and runs:\n{out}"
    );
    assert!(out.contains("result:"), "{out}");

    let (code, out) = run(
        ws.cargo(&[
            "build",
            "--quiet",
            "--package",
            "level-1-basics",
            "--all-targets",
        ]),
        BUILD_TIMEOUT,
    );
    assert_eq!(
        code, 0,
        "a plain build of every target of the level still works:\n{out}"
    );

    let (code, out) = run(ws.xtask(&["progress"]), BUILD_TIMEOUT);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("does not compile: errors in {EX02}")),
        "{out}"
    );
    assert!(out.contains("[x] l1-ex01"), "{out}");
    assert!(out.contains("1 of 6 done"), "{out}");
}

#[test]
fn a_hanging_test_is_stopped_at_the_deadline_and_the_others_are_reported() {
    let (_turn, ws) = build_workspace();
    // Correct, except for an endless loop on a list holding minus infinity, which one test
    // passes. l1-ex04's tests keep the runner's default deadline of 5 s.
    let solution = ws.read(EX04_SOLUTION).replace(
        "pub fn process(numbers: &[f64]) -> Result<Stats, TaskError> {",
        "pub fn process(numbers: &[f64]) -> Result<Stats, TaskError> {\n    \
         while numbers.contains(&f64::NEG_INFINITY) {\n        std::hint::spin_loop();\n    }",
    );
    ws.write(EX04, &solution);

    let (code, out) = run(ws.xtask(&["check", "l1-ex04"]), BUILD_TIMEOUT);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "HUNG  process_gives_count_sum_and_average_and_rejects_bad_input: did not finish in \
             5 s (a deadlock, a lost message, or an endless loop?)"
        ),
        "{out}"
    );
    for passing in [
        "divide_refuses_a_zero_divisor_and_non_finite_operands",
        "parse_reads_pairs_and_names_the_bad_piece",
        "the_reference_tasks_succeed_and_fail_by_id",
    ] {
        assert!(
            out.contains(&format!("ok    {passing}")),
            "{passing}:\n{out}"
        );
    }
    assert!(
        out.contains("1 of 11 tests fail (1 did not finish)"),
        "{out}"
    );

    // A process that exits with status 0 before its test finished has not passed.
    let exits = ws.read(EX04_SOLUTION).replace(
        "pub fn process(numbers: &[f64]) -> Result<Stats, TaskError> {",
        "pub fn process(numbers: &[f64]) -> Result<Stats, TaskError> {\n    \
         if numbers.contains(&f64::NEG_INFINITY) {\n        std::process::exit(0);\n    }",
    );
    ws.write(EX04, &exits);
    let (code, out) = run(ws.xtask(&["check", "l1-ex04"]), BUILD_TIMEOUT);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAIL  process_gives_count_sum_and_average_and_rejects_bad_input"),
        "{out}"
    );
    assert!(out.contains("ended before the test finished"), "{out}");
}

#[test]
fn hints_come_one_at_a_time_and_reset_restores_the_exact_stub() {
    let ws = Workspace::new("files");
    let quick = Duration::from_secs(60);

    let (code, out) = run(ws.xtask(&["hint", "l1-ex01"]), quick);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("Hint 1 of 3 for l1-ex01 (hello worker)"),
        "{out}"
    );
    assert!(out.contains("ownership of its inputs with `move`"), "{out}");
    let (_, out) = run(ws.xtask(&["hint", "l1-ex01"]), quick);
    assert!(out.contains("Hint 2 of 3 for l1-ex01"), "{out}");
    assert!(
        !out.contains("ownership of its inputs"),
        "only the new hint:\n{out}"
    );
    let (_, out) = run(ws.xtask(&["hint"]), quick);
    assert!(
        out.contains("Hint 3 of 3 for l1-ex01"),
        "without an id, the next exercise:\n{out}"
    );
    let (_, out) = run(ws.xtask(&["hint", "l1-ex01"]), quick);
    assert!(out.contains("all 3 were shown already"), "{out}");

    let stub = ws.read(EX01);
    ws.write(EX01, "a learner's attempt, half written");
    let (code, out) = run(ws.xtask(&["reset", "l1-ex01"]), quick);
    assert_eq!(
        code, 2,
        "with no terminal to confirm on, reset refuses:\n{out}"
    );
    assert_eq!(ws.read(EX01), "a learner's attempt, half written");
    let (code, out) = run(ws.xtask(&["reset", "l1-ex01", "--yes"]), quick);
    assert_eq!(code, 0, "{out}");
    assert_eq!(ws.read(EX01), stub, "the stub, byte for byte");
    let (_, out) = run(ws.xtask(&["hint", "l1-ex01"]), quick);
    assert!(
        out.contains("Hint 1 of 3"),
        "a reset starts the hints again:\n{out}"
    );

    let ignored = fs::read_to_string(repository().join(".gitignore")).unwrap();
    assert!(
        ignored.lines().any(|l| l == "/.exercise-state"),
        "git status ignores the state"
    );
}

#[test]
fn a_deleted_exercise_file_is_named_and_reset_brings_it_back() {
    let ws = Workspace::new("missing");
    let quick = Duration::from_secs(60);
    let stub = ws.read(EX01);
    fs::remove_file(ws.path(EX01)).unwrap();

    let (code, out) = run(ws.xtask(&["list"]), quick);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("l1-ex01   hello worker                 {EX01}")),
        "{out}"
    );
    let (code, out) = run(ws.xtask(&["check", "l1-ex01"]), quick);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("your file {EX01} is missing")),
        "{out}"
    );
    assert!(out.contains("`cargo exercise reset l1-ex01`"), "{out}");
    let (code, out) = run(ws.xtask(&["reset", "l1-ex01", "--yes"]), quick);
    assert_eq!(code, 0, "{out}");
    assert_eq!(ws.read(EX01), stub);
}

#[test]
fn bad_usage_is_refused_with_exit_code_2_and_one_line() {
    let ws = Workspace::new("usage");
    for args in [
        &["check", "l9-ex99"][..],
        &["frobnicate"],
        &["reset"],
        &["hint", "l1-ex01", "extra"],
    ] {
        let (code, out) = run(ws.xtask(args), Duration::from_secs(60));
        assert_eq!(code, 2, "{args:?}: {out}");
        assert!(out.starts_with("error: "), "{args:?}: {out}");
        assert_eq!(out.trim_end().lines().count(), 1, "{args:?}: {out}");
    }
    let (code, out) = run(ws.xtask(&["help"]), Duration::from_secs(60));
    assert_eq!(code, 0);
    for command in [
        "watch", "check", "hint", "reset", "list", "progress", "verify",
    ] {
        assert!(
            out.contains(&format!("\n  {command} ")),
            "help lists {command}:\n{out}"
        );
    }
}

#[test]
fn watch_rechecks_on_save_moves_on_after_a_pass_and_answers_keys() {
    let (_turn, ws) = build_workspace();
    let mut cmd = ws.xtask(&["watch", "l1-ex01"]);
    let (reader, writer) = std::io::pipe().unwrap();
    cmd.stdin(Stdio::piped())
        .stdout(writer.try_clone().unwrap())
        .stderr(writer);
    // Killed when the test ends, passed or failed: a failed wait must not leave it watching.
    let mut child = KillOnDrop(cmd.spawn().unwrap());
    drop(cmd);
    let mut keys = child.0.stdin.take().unwrap();
    let (tx, lines) = mpsc::channel::<String>();
    thread::spawn(move || {
        for line in BufReader::new(reader).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = String::new();
    let mut wait_for = |text: &str, timeout: Duration| {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => {
                    seen.push_str(&line);
                    seen.push('\n');
                    if line.contains(text) {
                        return;
                    }
                }
                Err(_) => panic!("no line with {text:?} within {timeout:?}; output:\n{seen}"),
            }
        }
    };

    wait_for("FAIL l1-ex01 (hello worker)", BUILD_TIMEOUT);
    wait_for("Watching level-1-basics", BUILD_TIMEOUT);
    ws.write(EX01, &ws.read(EX01_SOLUTION));
    wait_for("PASS l1-ex01 (hello worker)", BUILD_TIMEOUT);
    wait_for("Next: l1-ex02 (number processor)", BUILD_TIMEOUT);
    wait_for("Watching level-1-basics", BUILD_TIMEOUT);
    keys.write_all(b"h\n").unwrap();
    wait_for(
        "Hint 1 of 3 for l1-ex02 (number processor)",
        Duration::from_secs(60),
    );
    keys.write_all(b"q\n").unwrap();
    assert_eq!(wait_within(&mut child.0, Duration::from_secs(60)), Some(0));
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
