//! Lesson l3-39 run as a built program: its three ways (one worker, two threads, two processes
//! on loopback) agree with the sequential count, and a second process that dies mid-run (the
//! lesson's test hook `L3_39_CHILD_EXITS`) makes it fail in one line, within a deadline.
//!
//! The lesson is built once, and every run has a deadline (`support`).

mod support;

use std::path::PathBuf;
use std::process::{Command, ExitStatus};
use std::time::Duration;

const LESSON: &str = "l3-39-beyond-one-machine";
/// The lesson's own deadline for its two processes is 60 s; a debug run takes a few seconds.
const RUN_DEADLINE: Duration = Duration::from_secs(90);

/// The built lesson (see `support`).
fn lesson() -> PathBuf {
    support::examples_dir(&[LESSON]).join(LESSON)
}

/// Runs `command` under `RUN_DEADLINE`: how it ended, and what it printed.
fn run(command: Command) -> (ExitStatus, String, String) {
    let out = support::run_with_deadline(command, RUN_DEADLINE, LESSON);
    (out.status, out.stdout, out.stderr)
}

#[test]
fn the_three_ways_agree_with_the_sequential_count() {
    let mut command = Command::new(lesson());
    command.env_remove("L3_39_CHILD_EXITS");
    let (status, stdout, stderr) = run(command);
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
    let (status, stdout, stderr) = run(command);
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
