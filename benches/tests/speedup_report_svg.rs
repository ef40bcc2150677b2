//! The speedup report's `--svg DIR`, run as the built program: it writes one chart per
//! workload that parses as SVG and prints each path; a DIR that cannot be created is refused
//! in one line with exit code 1 before anything is measured; `--svg` without a DIR is bad
//! usage, exit code 2.
//!
//! The runs use `--quick --runs 1` and two workloads, so that even this test's debug build
//! takes a second or two; every run has a deadline, after which the child is killed and the
//! test fails. Nothing here depends on the times measured: only on which files exist and
//! what they hold.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::thread;
use std::time::{Duration, Instant};

/// How long one run may take: a quick run of two workloads in a debug build takes a second or
/// two on a busy 2-core machine.
const RUN_DEADLINE: Duration = Duration::from_secs(120);

/// A fresh directory for one test, under Cargo's temporary directory in `target/`.
fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("speedup-report-svg-{test}"));
    if dir.exists() {
        fs::remove_dir_all(&dir).expect("the previous run's directory removed");
    }
    fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

/// Runs the report with `args`, its output going to files in `dir`; kills it and fails past
/// the deadline.
fn run(dir: &Path, args: &[&str]) -> (ExitStatus, String, String) {
    let (out, err) = (dir.join("stdout.txt"), dir.join("stderr.txt"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_speedup-report"))
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .stdin(std::process::Stdio::null())
        .stdout(File::create(&out).expect("a stdout file"))
        .stderr(File::create(&err).expect("a stderr file"))
        .spawn()
        .expect("the report starts");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("the child's status") {
            break status;
        }
        if started.elapsed() > RUN_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("speedup-report {args:?} ran longer than {RUN_DEADLINE:?}");
        }
        thread::sleep(Duration::from_millis(20));
    };
    let read = |path: &Path| fs::read_to_string(path).expect("the child's output");
    (status, read(&out), read(&err))
}

#[test]
fn svg_writes_a_chart_per_workload_that_parses() {
    let dir = scratch("writes");
    // A directory that does not exist yet, two levels deep: the report creates it.
    let charts = dir.join("charts/nested");
    let charts_arg = charts.to_str().expect("a UTF-8 path");
    let (status, stdout, stderr) = run(
        &dir,
        &[
            "--quick", "--runs", "1", "--engine", "all", "--svg", charts_arg, "primes", "blur",
        ],
    );
    assert!(status.success(), "{status}\n{stdout}\n{stderr}");

    let mut names: Vec<String> = fs::read_dir(&charts)
        .expect("the chart directory")
        .map(|entry| {
            entry
                .expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["blur.svg", "primes.svg"],
        "one chart per workload run"
    );

    for workload in ["primes", "blur"] {
        let path = charts.join(format!("{workload}.svg"));
        assert!(
            stdout.contains(&format!("chart written to {}", path.display())),
            "the path of {workload}'s chart is printed:\n{stdout}"
        );
        let svg = fs::read_to_string(&path).expect("the chart");
        let doc = roxmltree::Document::parse(&svg)
            .unwrap_or_else(|e| panic!("{} is not well-formed XML: {e}", path.display()));
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        let with_class = |class: &str| {
            doc.descendants()
                .filter(|n| n.attribute("class") == Some(class))
                .count()
        };
        assert_eq!(
            with_class("series"),
            3,
            "a line per engine in {workload}.svg"
        );
        assert_eq!(with_class("speedup"), 3);
        // 1, 2, 4 and the core count: at least three thread counts, a marker each.
        assert!(with_class("point") >= 9, "{workload}.svg");
        assert_eq!(with_class("ideal"), 1);
        assert_eq!(with_class("cores"), 1);
        // The Amdahl curve is drawn only when the run gives a serial fraction strictly
        // between 0 and 1, which depends on the times; its legend line is always there.
        assert_eq!(with_class("amdahl-legend"), 1);
        let title = doc
            .descendants()
            .find(|n| n.attribute("class") == Some("title"))
            .and_then(|n| n.text())
            .expect("a title");
        assert!(title.starts_with(workload), "{title}");
    }
}

#[test]
fn an_svg_dir_that_cannot_be_created_is_refused_in_one_line_before_measuring() {
    let dir = scratch("bad-dir");
    let file = dir.join("a-file");
    fs::write(&file, "not a directory").expect("a regular file");
    let under_file = file.join("charts");
    let (status, stdout, stderr) = run(
        &dir,
        &[
            "--quick",
            "--svg",
            under_file.to_str().expect("UTF-8"),
            "primes",
        ],
    );
    assert_eq!(status.code(), Some(1), "{stdout}\n{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line:\n{stderr}");
    assert!(
        stderr.starts_with("speedup-report: cannot create the chart directory")
            && stderr.contains(&under_file.display().to_string()),
        "{stderr}"
    );
    assert_eq!(stdout, "", "nothing measured, nothing printed");
}

#[test]
fn svg_without_a_directory_is_bad_usage() {
    let dir = scratch("usage");
    for args in [&["--svg"][..], &["--svg="][..]] {
        let (status, stdout, stderr) = run(&dir, args);
        assert_eq!(status.code(), Some(2), "{args:?}: {stdout}\n{stderr}");
        assert!(stderr.contains("`--svg` needs a value"), "{stderr}");
        assert_eq!(stdout, "");
    }
}
