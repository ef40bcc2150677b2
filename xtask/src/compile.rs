//! Building one exercise's test binary, with every compiler message kept.
//!
//! Cargo is asked for JSON messages (`--message-format=json-diagnostic-rendered-ansi`): each
//! diagnostic arrives with the exact text cargo would have printed (`rendered`, in colour when
//! the runner writes to a terminal), its level, its lint name and its files. That lets the
//! runner print every message as cargo prints it, tell which file is at fault, and keep quiet
//! only the warnings a stub produces by design (unused inputs, code after a `todo!`).

use crate::course::Exercise;
use crate::ui::Ui;
use anyhow::{Context, Result};
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;

/// The warnings an unfinished stub produces by design: inputs not used yet, code after a
/// `todo!`. Hidden while the learner's file still has a `todo!`; shown once it has none.
const STUB_LINTS: &[&str] = &[
    "unused_variables",
    "unused_imports",
    "unused_mut",
    "unused_assignments",
    "unreachable_code",
];

/// Which code the tests are built against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The learner's file (the level's `learner` feature).
    Learner,
    /// The reference solution (a plain `cargo test`).
    Solution,
}

/// One compiler message.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    /// `error`, `warning`, `note`, `failure-note`, ...
    pub level: String,
    /// The lint or error code (`unused_variables`, `E0425`), if any.
    pub code: Option<String>,
    /// The files of its primary spans, relative to the workspace root.
    pub files: Vec<PathBuf>,
    /// The message exactly as cargo would print it.
    pub rendered: String,
}

/// What a build produced.
#[derive(Debug)]
pub enum Build {
    Built {
        executable: PathBuf,
        /// Warnings shown (in the learner's file, or anywhere else in the build).
        warnings: usize,
        /// Stub warnings kept quiet (see [`STUB_LINTS`]).
        hidden: usize,
    },
    Failed {
        shown: Vec<Diagnostic>,
        /// What cargo itself said on stderr (a broken manifest, say), for when no compiler
        /// message explains the failure.
        cargo_output: String,
    },
}

impl Build {
    /// The files named by the build's errors, most relevant first, without repeats.
    pub fn error_files(&self) -> Vec<PathBuf> {
        let Build::Failed { shown, .. } = self else {
            return Vec::new();
        };
        let mut files = Vec::new();
        for d in shown.iter().filter(|d| d.level == "error") {
            for f in &d.files {
                if !files.contains(f) {
                    files.push(f.clone());
                }
            }
        }
        files
    }
}

/// Builds the tests of `ex` against `target`. With `ui.echo` on, prints each message as it
/// arrives, and cargo's progress (`Compiling ...`) as cargo writes it.
pub fn build(root: &Path, ex: &Exercise, target: Target, ui: &Ui) -> Result<Build> {
    let quiet_stub_warnings = target == Target::Learner && ex.has_todo()?;
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root)
        .args([
            "test",
            "--no-run",
            "--package",
            &ex.package,
            "--test",
            &ex.stem,
        ])
        .arg(if ui.color {
            "--message-format=json-diagnostic-rendered-ansi"
        } else {
            "--message-format=json"
        })
        .args(["--color", if ui.color { "always" } else { "never" }])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if target == Target::Learner {
        cmd.args(["--features", "learner"]);
    }
    let mut child = cmd.spawn().context("could not start cargo")?;
    let stderr = child.stderr.take().context("cargo's stderr")?;
    let stdout = child.stdout.take().context("cargo's stdout")?;

    // Cargo's own lines (progress, its summary) come on stderr, alongside the messages.
    let echo = ui.echo;
    let stderr_reader = thread::spawn(move || {
        let mut kept = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let plain = strip_ansi(&line);
            let plain = plain.trim_start();
            let noise = plain.starts_with("Finished ")
                || plain.starts_with("Executable ")
                // Cargo's tallies count the warnings the runner hid, and its "could not
                // compile" repeats what the runner's summary says.
                || (plain.starts_with("warning: `") && plain.contains(" generated "))
                || plain.starts_with("error: could not compile");
            if echo && !noise {
                eprintln!("{line}");
            }
            kept.push_str(&line);
            kept.push('\n');
        }
        kept
    });

    let mut shown = Vec::new();
    let mut hidden = 0;
    let mut executable = None;
    let mut success = false;
    for line in BufReader::new(stdout).lines() {
        let line = line.context("reading cargo's messages")?;
        let Ok(msg) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        match msg["reason"].as_str() {
            Some("compiler-message") => {
                let d = diagnostic(&msg["message"]);
                if is_warning_tally(&d) {
                    continue;
                }
                let stub_noise = d.level == "warning"
                    && d.code
                        .as_deref()
                        .is_some_and(|code| STUB_LINTS.contains(&code));
                if quiet_stub_warnings && stub_noise {
                    hidden += 1;
                    continue;
                }
                if ui.echo {
                    print!("{}", d.rendered);
                    let _ = std::io::stdout().flush();
                }
                shown.push(d);
            }
            Some("compiler-artifact")
                if msg["target"]["name"] == ex.stem.as_str()
                    && msg["target"]["kind"]
                        .as_array()
                        .is_some_and(|k| k.iter().any(|k| k == "test")) =>
            {
                executable = msg["executable"].as_str().map(PathBuf::from);
            }
            Some("build-finished") => success = msg["success"].as_bool().unwrap_or(false),
            _ => {}
        }
    }
    let status = child.wait().context("waiting for cargo")?;
    let cargo_output = stderr_reader.join().unwrap_or_default();
    match executable {
        Some(executable) if success && status.success() => Ok(Build::Built {
            executable,
            warnings: shown.iter().filter(|d| d.level == "warning").count(),
            hidden,
        }),
        _ => Ok(Build::Failed {
            shown,
            cargo_output,
        }),
    }
}

fn diagnostic(message: &Value) -> Diagnostic {
    let mut files: Vec<PathBuf> = Vec::new();
    for span in message["spans"].as_array().into_iter().flatten() {
        if span["is_primary"].as_bool() == Some(true)
            && let Some(file) = span["file_name"].as_str()
        {
            let file = normalize(Path::new(file));
            if !files.contains(&file) {
                files.push(file);
            }
        }
    }
    Diagnostic {
        level: message["level"].as_str().unwrap_or("error").to_owned(),
        code: message["code"]["code"].as_str().map(str::to_owned),
        files,
        // The learner's file is compiled through the tests folder (`#[path]`): name it by its
        // own path, the one the learner has open.
        rendered: message["rendered"]
            .as_str()
            .unwrap_or_default()
            .replace("/tests/../src/", "/src/"),
    }
}

/// rustc's closing "N warnings emitted", which would count the hidden ones too.
fn is_warning_tally(d: &Diagnostic) -> bool {
    d.level == "warning" && d.files.is_empty() && strip_ansi(&d.rendered).contains(" emitted")
}

/// `level-1-basics/tests/../src/exercises/ex01.rs` → `level-1-basics/src/exercises/ex01.rs`.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir if out.file_name().is_some() => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// `text` without its ANSI colour sequences.
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters final-byte
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_through_the_tests_folder_name_the_learners_file() {
        assert_eq!(
            normalize(Path::new(
                "level-1-basics/tests/../src/exercises/ex02_number_processor.rs"
            )),
            Path::new("level-1-basics/src/exercises/ex02_number_processor.rs")
        );
    }

    #[test]
    fn colour_codes_are_stripped() {
        assert_eq!(
            strip_ansi("\u{1b}[0m\u{1b}[1m\u{1b}[38;5;9merror\u{1b}[0m: oops"),
            "error: oops"
        );
    }

    #[test]
    fn a_diagnostic_keeps_its_level_code_files_and_text() {
        let msg: Value = serde_json::from_str(
            r#"{"level":"error","code":{"code":"E0425","explanation":"..."},
                "spans":[{"file_name":"level-1-basics/tests/../src/exercises/ex02.rs","is_primary":true},
                         {"file_name":"elsewhere.rs","is_primary":false}],
                "rendered":"error[E0425]: cannot find function `undefined_fn`\n"}"#,
        )
        .unwrap();
        let d = diagnostic(&msg);
        assert_eq!(d.level, "error");
        assert_eq!(d.code.as_deref(), Some("E0425"));
        assert_eq!(
            d.files,
            vec![PathBuf::from("level-1-basics/src/exercises/ex02.rs")]
        );
        assert!(d.rendered.contains("undefined_fn"));
    }
}
