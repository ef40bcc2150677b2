//! What the tests that run this level's examples as built programs share: building the
//! examples once, with the same cargo and profile as the test itself, and running a child
//! with a deadline.
//!
//! Examples have no `CARGO_BIN_EXE_*` variable, so the first test to need them builds them
//! (`cargo build --example ...`, once per test binary, with a deadline) into the target
//! directory the test runs from. Every run has a deadline too: a child still running after it
//! is killed, and the test fails.

// Each test binary uses its own part of this module.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

/// How long building the examples may take (a cold debug build on a busy 2-core machine).
pub const BUILD_DEADLINE: Duration = Duration::from_secs(600);

/// What a finished child printed, and how it ended.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }
}

/// The directory of the built `examples`, in the profile directory this test runs from
/// (`target/debug/deps/<test>-*` → `target/debug/examples`). The first call builds them; a
/// test binary passes the same list at every call.
pub fn examples_dir(examples: &[&str]) -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test's own path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test runs from <target>/<profile>/deps");
        let target_dir = profile_dir.parent().expect("a target directory");
        let profile = profile_dir
            .file_name()
            .and_then(|n| n.to_str())
            .expect("a profile directory name");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = Command::new(cargo);
        build
            .args(["build", "--quiet", "--package", "level-3-advanced"])
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
        for example in examples {
            build.args(["--example", example]);
        }
        let what = format!("cargo build of {}", examples.join(", "));
        let out = run_with_deadline(build, BUILD_DEADLINE, &what);
        assert!(out.status.success(), "cargo build failed:\n{}", out.stderr);
        profile_dir.join("examples")
    })
}

/// Runs `command` to its end, with no input, reading its pipes on threads of their own; kills
/// it and fails the test if it outlives `deadline`.
pub fn run_with_deadline(mut command: Command, deadline: Duration, what: &str) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waitpid") {
            break status;
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} still ran after {deadline:?}: killed");
        }
        thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// Reads a child's pipe to its end on a thread of its own, so that a full pipe never blocks it.
fn drain(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<String> {
    let mut pipe = pipe.expect("a piped stream");
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}
