//! The five projects' command lines, run as built programs: every bad input is refused before
//! any work, in one line on stderr (`error: <what> (<why>)`), with exit code 2 for bad usage
//! and 1 for a failed run; no panic, no abort, no file left behind; and no speedup ratio is
//! printed from times too short to compare.
//!
//! The five are built once and every run has a deadline (`support`).

mod support;

use level_3_advanced::projects::cli::MAX_THREADS;
use level_3_advanced::projects::image::{Image, Layout, write_png};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use support::{Output, run_with_deadline};

const P1: &str = "l3-p1-image-processor";
const P2: &str = "l3-p2-data-pipeline";
const P3: &str = "l3-p3-job-system";
const P4: &str = "l3-p4-ray-tracer";
const P5: &str = "l3-p5-hash-cracker";
const PROJECTS: [&str; 5] = [P1, P2, P3, P4, P5];

/// How long one run may take. A refused run takes milliseconds; the longest run here (the job
/// system's whole demo, in a debug build) takes a second or two.
const RUN_DEADLINE: Duration = Duration::from_secs(60);

/// Runs a project with `args`, in `tmp` as its temporary directory (`TMPDIR`), with
/// `RUST_BACKTRACE=1` set as a learner following the guides would have it.
fn run_in(project: &str, args: &[&str], tmp: &Path) -> Output {
    let mut command = Command::new(support::examples_dir(&PROJECTS).join(project));
    command
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .env("TMPDIR", tmp);
    run_with_deadline(
        command,
        RUN_DEADLINE,
        &format!("{project} {}", args.join(" ")),
    )
}

/// A fresh, empty directory for one test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "project-cli-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&dir).expect("a scratch directory");
        Self(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn entries(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(&self.0)
            .expect("readable scratch directory")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Runs a project with `args` and checks that it refused them the one way: exit `code`, one
/// line on stderr starting `error: `, no panic, no abort, and nothing on stdout (no work
/// started, not even its first announcement). Returns the error line.
#[track_caller]
fn refused(project: &str, args: &[&str], code: i32) -> String {
    let scratch = Scratch::new();
    let out = run_in(project, args, &scratch.0);
    let error = assert_one_error_line(project, args, &out, code);
    assert_eq!(
        out.stdout, "",
        "{project} {args:?}: printed before refusing, so work had started:\n{}",
        out.stdout
    );
    assert!(
        scratch.entries().is_empty(),
        "{project} {args:?} left {:?} in its temporary directory",
        scratch.entries()
    );
    error
}

/// The checks of [`refused`] on stderr and the exit code only.
#[track_caller]
fn assert_one_error_line(project: &str, args: &[&str], out: &Output, code: i32) -> String {
    let context = format!(
        "{project} {args:?}: exit {:?}\n--- stdout\n{}--- stderr\n{}",
        out.code(),
        out.stdout,
        out.stderr
    );
    assert_eq!(out.code(), Some(code), "{context}");
    for fatal in [
        "panicked",
        "fatal runtime error",
        "RUST_BACKTRACE",
        "Caused by",
    ] {
        assert!(!out.stderr.contains(fatal), "{fatal:?} in {context}");
    }
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "not one line on stderr: {context}");
    assert!(lines[0].starts_with("error: "), "{context}");
    lines[0].to_owned()
}

/// The bad usages every project refuses with exit code 2, whatever its options.
fn common_bad_usage(project: &str, threads_flag: &str) {
    let too_many = (MAX_THREADS + 1).to_string();
    for args in [
        vec![threads_flag, "100000"],
        vec![threads_flag, &too_many],
        vec![threads_flag, "0"],
        vec![threads_flag, "two"],
        vec![threads_flag, "-1"],
        vec![threads_flag, "99999999999999999999999999"],
        vec![threads_flag],
        vec!["--no-such-option"],
        vec!["extra"],
    ] {
        let error = refused(project, &args, 2);
        if args.len() == 2 {
            assert!(error.contains(threads_flag), "{error}");
            assert!(error.contains(&format!("1 to {MAX_THREADS}")), "{error}");
        }
    }
}

/// Every `--help` names the exit codes and the thread limit, and exits 0.
#[test]
fn every_help_documents_the_exit_codes_and_the_thread_limit() {
    let scratch = Scratch::new();
    for project in PROJECTS {
        let out = run_in(project, &["--help"], &scratch.0);
        assert_eq!(out.code(), Some(0), "{project}: {}", out.stderr);
        assert!(
            out.stdout.contains("Exit codes: 0"),
            "{project}:\n{}",
            out.stdout
        );
        assert!(
            out.stdout.contains("2 bad usage"),
            "{project}:\n{}",
            out.stdout
        );
        assert!(
            out.stdout.contains(&format!("1 to {MAX_THREADS}")),
            "{project}:\n{}",
            out.stdout
        );
        assert!(
            out.stdout.contains("--verbose"),
            "{project}:\n{}",
            out.stdout
        );
    }
}

/// Checks each line like `... 0.21 ms ... 0.05 ms ... speedup 4.20x` with the times
/// `times_in` finds on it: a ratio only if every time is at least a millisecond, and
/// "not compared" (from `shared::timing::compare_text`) only if one is under. The times are
/// printed rounded, so `tolerance` (half the last digit printed) is allowed either way.
#[track_caller]
fn assert_no_ratio_of_unmeasurable_times(
    stdout: &str,
    tolerance: f64,
    times_in: &dyn Fn(&str) -> Vec<f64>,
) {
    let mut checked = 0;
    for line in stdout.lines().filter(|l| l.contains("speedup")) {
        let times = times_in(line);
        if times.is_empty() {
            continue;
        }
        checked += 1;
        if line.contains("not compared") {
            assert!(
                times.iter().any(|&t| t < 1.0 + tolerance),
                "every time {times:?} ms is measurable, yet: {line}"
            );
        } else {
            assert!(
                times.iter().all(|&t| t >= 1.0 - tolerance),
                "a ratio of a time under 1 ms, {times:?} ms: {line}"
            );
        }
    }
    assert!(checked > 0, "no speedup line with its times in:\n{stdout}");
}

/// The numbers just before each ` ms` in `line`, before its `speedup` (whose "not compared
/// (under 1 ms)" is not a time).
fn ms_in(line: &str) -> Vec<f64> {
    let times = line.split("speedup").next().unwrap_or_default();
    times
        .split(" ms")
        .filter_map(|before| before.split_whitespace().last()?.parse().ok())
        .collect()
}

#[test]
fn p1_refuses_bad_usage_before_any_work() {
    common_bad_usage(P1, "--threads");
    for args in [
        &["--tile", "0"][..],
        &["--tile", "1"],
        &["--tile", "100000"],
        &["--radius", "33"],
        &["--radius", "70000"],
        &["--filters", "blur,nope"],
        &["--filters", ""],
        &["--input"],
        &["--output"],
    ] {
        refused(P1, args, 2);
    }
    let many = vec!["invert"; 17].join(",");
    let error = refused(P1, &["--filters", &many], 2);
    assert!(error.contains("17 filters"), "{error}");
}

#[test]
fn p1_refuses_an_unwritable_output_or_unreadable_input_before_any_work() {
    let scratch = Scratch::new();
    let file = scratch.path("a-file");
    fs::write(&file, b"not a directory").unwrap();
    // Under a regular file nothing can be created, whoever runs the test.
    let under_file = file.join("out.png");
    let error = refused(P1, &["--output", under_file.to_str().unwrap()], 1);
    assert!(error.contains("cannot write the output file"), "{error}");
    let error = refused(P1, &["--output", scratch.0.to_str().unwrap()], 1);
    assert!(error.contains("directory"), "{error}");

    let out_png = scratch.path("out.png");
    let missing = scratch.path("missing.png");
    refused(
        P1,
        &[
            "--input",
            missing.to_str().unwrap(),
            "--output",
            out_png.to_str().unwrap(),
        ],
        1,
    );
    refused(
        P1,
        &[
            "--input",
            file.to_str().unwrap(),
            "--output",
            out_png.to_str().unwrap(),
        ],
        1,
    );
    assert!(!out_png.exists(), "a refused run created its output");
    assert_eq!(fs::read(&file).unwrap(), b"not a directory");
}

#[test]
fn p1_verbose_shows_every_cause() {
    let scratch = Scratch::new();
    let missing = scratch.path("missing.png");
    let out = run_in(
        P1,
        &["--input", missing.to_str().unwrap(), "--verbose"],
        &scratch.0,
    );
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert!(out.stderr.starts_with("error: "), "{}", out.stderr);
    assert!(out.stderr.contains("Caused by"), "{}", out.stderr);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
}

#[test]
fn p1_prints_no_ratio_for_a_one_pixel_image() {
    let scratch = Scratch::new();
    let input = scratch.path("one.png");
    let image = Image::new(1, 1, Layout::Rgb, vec![10, 200, 30]).unwrap();
    write_png(&image, &input).unwrap();
    let output = scratch.path("out.png");
    let out = run_in(
        P1,
        &[
            "--input",
            input.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
            "--threads",
            "2",
        ],
        &scratch.0,
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert!(output.exists());
    // The per-filter lines carry their two times, printed to 0.01 ms.
    assert_no_ratio_of_unmeasurable_times(&out.stdout, 0.005, &|line| {
        if line.contains("sequential") {
            ms_in(line)
        } else {
            Vec::new()
        }
    });
}

#[test]
fn p2_refuses_bad_usage_before_any_work() {
    common_bad_usage(P2, "--threads");
    for args in [
        &["--capacity", "0"][..],
        &["--capacity", "100000000000"],
        &["--capacity", "1025"],
        &["--batch", "0"],
        &["--batch", "1048577"],
        // Each within its own limit, the records in flight together above theirs.
        &["--batch", "1048576", "--capacity", "1024"],
        &["--records", "0"],
        &["--records", "18446744073709551615"],
        &["--records", "5", "--input", "x.csv"],
        &["--input"],
    ] {
        refused(P2, args, 2);
    }
}

#[test]
fn p2_refuses_an_input_without_a_valid_record() {
    let scratch = Scratch::new();
    let missing = scratch.path("missing.csv");
    let error = refused(P2, &["--input", missing.to_str().unwrap()], 1);
    assert!(error.contains("cannot open"), "{error}");

    let empty = scratch.path("empty.csv");
    fs::write(&empty, b"").unwrap();
    let png = scratch.path("picture.csv");
    let image = Image::new(2, 1, Layout::Gray, vec![0, 255]).unwrap();
    write_png(&image, &png).unwrap();
    let header_only = scratch.path("header.csv");
    fs::write(&header_only, b"id,timestamp,sensor,value\n").unwrap();
    for input in [&empty, &png, &header_only] {
        let error = refused(P2, &["--input", input.to_str().unwrap()], 1);
        assert!(error.contains("no valid record"), "{error}");
    }
}

#[test]
fn p2_runs_a_tiny_input_without_a_meaningless_ratio() {
    let scratch = Scratch::new();
    let out = run_in(P2, &["--records", "3"], &scratch.0);
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("result: 3 lines"), "{}", out.stdout);
    let seq = out
        .stdout
        .lines()
        .find(|l| l.starts_with("sequential "))
        .unwrap();
    let par = out
        .stdout
        .lines()
        .find(|l| l.starts_with("parallel ("))
        .unwrap();
    let times = [ms_in(seq), ms_in(par)].concat();
    let speedup = out
        .stdout
        .lines()
        .find(|l| l.starts_with("speedup"))
        .unwrap();
    // The times are printed rounded to whole milliseconds: "0 ms" is surely under 1 ms.
    if times.contains(&0.0) {
        assert!(speedup.contains("not compared"), "{speedup}");
    }
}

#[test]
fn p3_refuses_bad_usage_before_any_work() {
    common_bad_usage(P3, "--workers");
    refused(P3, &["--dir"], 2);
}

#[test]
fn p3_refuses_a_bad_directory_before_any_work() {
    let scratch = Scratch::new();
    let missing = scratch.path("missing");
    refused(P3, &["--dir", missing.to_str().unwrap()], 1);
    let file = scratch.path("a-file");
    fs::write(&file, b"x").unwrap();
    refused(P3, &["--dir", file.to_str().unwrap()], 1);
    let used = scratch.path("used");
    fs::create_dir(&used).unwrap();
    fs::write(used.join("jobs.log"), b"someone's log").unwrap();
    let error = refused(P3, &["--dir", used.to_str().unwrap()], 1);
    assert!(error.contains("already exists"), "{error}");
    assert_eq!(fs::read(used.join("jobs.log")).unwrap(), b"someone's log");
}

#[test]
fn p3_removes_its_own_log_directory_and_keeps_one_given() {
    let scratch = Scratch::new();
    let out = run_in(P3, &["--workers", "2"], &scratch.0);
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("removed at exit"), "{}", out.stdout);
    // The panicking job's two attempts, one line each even with RUST_BACKTRACE=1.
    let stderr: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(stderr.len(), 2, "{}", out.stderr);
    assert!(
        stderr.iter().all(|l| l.contains("panicked on purpose")),
        "{}",
        out.stderr
    );
    assert_eq!(scratch.entries(), Vec::<String>::new(), "left behind");

    let kept = scratch.path("kept");
    fs::create_dir(&kept).unwrap();
    let out = run_in(
        P3,
        &["--workers", "2", "--dir", kept.to_str().unwrap()],
        &scratch.0,
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("kept in"), "{}", out.stdout);
    assert!(kept.join("jobs.log").exists());
    assert_eq!(scratch.entries(), ["kept"]);
}

#[test]
fn p4_refuses_bad_usage_before_any_work() {
    common_bad_usage(P4, "--threads");
    for args in [
        &["--width", "0"][..],
        &["--width", "8193"],
        &["--height", "0"],
        &["--samples", "0"],
        &["--samples", "257"],
        &["--tile", "0"],
        &["--tile", "1"],
        &["--output"],
    ] {
        refused(P4, args, 2);
    }
    let error = refused(
        P4,
        &["--width", "8192", "--height", "8192", "--samples", "256"],
        2,
    );
    assert!(error.contains("rays"), "{error}");
}

#[test]
fn p4_refuses_an_unwritable_output_before_rendering() {
    let scratch = Scratch::new();
    let file = scratch.path("a-file");
    fs::write(&file, b"x").unwrap();
    let under_file = file.join("out.png");
    let error = refused(P4, &["--output", under_file.to_str().unwrap()], 1);
    assert!(error.contains("cannot write the output file"), "{error}");
    refused(P4, &["--output", scratch.0.to_str().unwrap()], 1);
}

#[test]
fn p4_prints_no_ratio_for_a_one_pixel_render() {
    let scratch = Scratch::new();
    let output = scratch.path("one.png");
    let out = run_in(
        P4,
        &[
            "--width",
            "1",
            "--height",
            "1",
            "--threads",
            "2",
            "--output",
            output.to_str().unwrap(),
        ],
        &scratch.0,
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert!(output.exists());
    let times: Vec<f64> = out
        .stdout
        .lines()
        .filter(|l| l.contains("(1 thread)") || l.contains("parallel ("))
        .flat_map(ms_in)
        .collect();
    assert_eq!(times.len(), 2, "{}", out.stdout);
    let speedup = out
        .stdout
        .lines()
        .find(|l| l.contains("] speedup"))
        .unwrap();
    // Printed to 0.1 ms.
    let line = format!("{} ms {} ms {speedup}", times[0], times[1]);
    assert_no_ratio_of_unmeasurable_times(&line, 0.05, &ms_in);
}

#[test]
fn p5_refuses_bad_usage_before_any_search() {
    common_bad_usage(P5, "--threads");
    for args in [
        &["--max-len", "0"][..],
        &["--max-len", "11"],
        &["--hash", "zz"],
        &["--hash", &"a".repeat(63)],
        &["--password", "ABC"],
        &["--password", "abcdef", "--max-len", "5"],
        &["--password", "a", "--hash", &"a".repeat(64)],
        &["--password"],
    ] {
        refused(P5, args, 2);
    }
}

#[test]
fn p5_exits_1_when_the_password_is_not_in_the_keyspace() {
    let scratch = Scratch::new();
    // The SHA-256 of "dog", searched among the 26 one-letter passwords only.
    let dog = "cd6357efdd966de8c0cb2f876cc89ec74ce35f0968e11743987084bd42fb8944";
    let out = run_in(P5, &["--hash", dog, "--max-len", "1"], &scratch.0);
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(out.stderr.starts_with("not found: "), "{}", out.stderr);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    // 26 candidates: too short a search for any ratio, however the clock measured it.
    let speedup = out
        .stdout
        .lines()
        .find(|l| l.starts_with("speedup"))
        .unwrap();
    assert!(speedup.contains("not compared"), "{speedup}");
    assert!(!out.stdout.contains("x (times"), "{}", out.stdout);
}
