//! Lesson l3-39 run as a built program: its three ways (one worker, two threads, two processes
//! on loopback) agree with the sequential count, and a second process that dies mid-run (the
//! lesson's test hook `L3_39_CHILD_EXITS`) makes it fail in one line, within a deadline.
//!
//! Examples have no `CARGO_BIN_EXE_*` variable, so the lesson is built first with the same
//! cargo and profile as this test (`cargo build --example ...`, once, with a deadline).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

const LESSON: &str = "l3-39-beyond-one-machine";
/// A cold debug build on a busy 2-core machine.
const BUILD_DEADLINE: Duration = Duration::from_secs(600);
/// The lesson's own deadline for its two processes is 60 s; a debug run takes a few seconds.
const RUN_DEADLINE: Duration = Duration::from_secs(90);

/// The built lesson, in the profile directory this test runs from.
fn lesson() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test's own path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("<target>/<profile>/deps");
        let target_dir = profile_dir.parent().expect("a target directory");
        let profile = profile_dir
            .file_name()
            .and_then(|n| n.to_str())
            .expect("a profile");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = Command::new(cargo);
        build
            .args([
                "build",
                "--quiet",
                "--package",
                "level-3-advanced",
                "--example",
                LESSON,
            ])
            .env("CARGO_TARGET_DIR", target_dir)
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        match profile {
            "debug" => {}
            "release" => {
                build.arg("--release");
            }
            other => {
                build.args(["--profile", other]);
            }
        }
        let (status, _, stderr) = run_with_deadline(build, BUILD_DEADLINE);
        assert!(status.success(), "cargo build failed:\n{stderr}");
        profile_dir.join("examples").join(LESSON)
    })
}

/// Runs `command` to its end, reading its pipes on threads of their own; kills it (and fails
/// the test) if it outlives `deadline`.
fn run_with_deadline(mut command: Command, deadline: Duration) -> (ExitStatus, String, String) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the program starts");
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        let mut pipe = pipe.expect("a piped stream");
        thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waitpid") {
            break status;
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("still running after {deadline:?}: killed");
        }
        thread::sleep(Duration::from_millis(10));
    };
    let (out, err) = (
        stdout.join().expect("stdout"),
        stderr.join().expect("stderr"),
    );
    (status, out, err)
}

#[test]
fn the_three_ways_agree_with_the_sequential_count() {
    let mut command = Command::new(lesson());
    command.env_remove("L3_39_CHILD_EXITS");
    let (status, stdout, stderr) = run_with_deadline(command, RUN_DEADLINE);
    assert!(status.success(), "{status}\n{stdout}\n{stderr}");
    let result = stdout
        .lines()
        .find(|l| l.starts_with("result: "))
        .unwrap_or_else(|| panic!("no result line:\n{stdout}"));
    assert!(
        result.starts_with(
            "result: 148933 primes below 2000000 on one worker, two threads and two processes; "
        ),
        "{result}"
    );
    let crossed: u64 = result
        .split("; ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count of records crossed: {result}"));
    // 2000 chunks of 1000 in the free run: each sent to process 1 crosses, and its count crosses back.
    assert!(crossed > 0 && crossed <= 4000, "{result}");
    assert!(stderr.is_empty(), "stderr:\n{stderr}");
}

#[test]
fn a_second_process_that_dies_mid_run_fails_the_lesson_in_one_line() {
    let mut command = Command::new(lesson());
    command
        .env("L3_39_CHILD_EXITS", "1")
        .env("RUST_BACKTRACE", "1");
    let (status, stdout, stderr) = run_with_deadline(command, RUN_DEADLINE);
    assert_eq!(status.code(), Some(1), "{status}\n{stdout}\n{stderr}");
    assert!(!stdout.contains("result: "), "{stdout}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "stderr should be one line:\n{stderr}");
    assert!(
        lines[0].starts_with("error: the second process died"),
        "{}",
        lines[0]
    );
}
