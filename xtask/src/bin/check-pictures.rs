//! Checks folders of pictures: `cargo run -p xtask --bin check-pictures -- [--traces] DIR...`.
//!
//! For each DIR, every `*.svg` must parse as XML with an `<svg>` root element, and every
//! `*.json` must parse as JSON; a JSON object with a `traceEvents` key is a trace (Chrome's
//! trace-event format, as `shared::timeline` writes it), whose `traceEvents` must be an array
//! of events, each an object with a `ph` (phase) string. With `--traces`, every JSON file
//! must be such a trace. A DIR that is missing, or holds no SVG, fails too.
//!
//! Prints one line per bad file or folder and exits 1 if there was any, otherwise one
//! summary line per DIR and exits 0. Exits 2 on bad usage (no DIR, an unknown option).
//! CI runs it on `target/timelines` after the lessons have drawn their timelines.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "usage: check-pictures [--traces] DIR...
  every *.svg in each DIR must parse as XML (an <svg> root), every *.json as JSON, and a
  JSON object with traceEvents must hold an array of trace events; --traces: every *.json
  must be a trace. A missing DIR, or one without an SVG, fails.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let (traces, dirs) = match parse_args(&args) {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("error: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut failed = false;
    for dir in &dirs {
        match check_dir(dir, traces) {
            Ok(summary) => println!("{}: {summary}", dir.display()),
            Err(problems) => {
                failed = true;
                problems.iter().for_each(|problem| println!("{problem}"));
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// `--traces` (anywhere) and the folders; an error for no folder or an unknown option.
fn parse_args(args: &[String]) -> Result<(bool, Vec<PathBuf>), String> {
    let mut traces = false;
    let mut dirs = Vec::new();
    for arg in args {
        match arg.as_str() {
            "--traces" => traces = true,
            option if option.starts_with('-') => return Err(format!("unknown option {option}")),
            dir => dirs.push(PathBuf::from(dir)),
        }
    }
    if dirs.is_empty() {
        return Err("no folder to check".to_owned());
    }
    Ok((traces, dirs))
}

/// Checks one folder (not its subfolders): a summary line, or one line per problem.
fn check_dir(dir: &Path, traces: bool) -> Result<String, Vec<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            return Err(vec![format!(
                "{}: cannot read the folder: {e}",
                dir.display()
            )]);
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    let (mut svgs, mut jsons, mut problems) = (0, 0, Vec::new());
    for path in paths.iter().filter(|p| p.is_file()) {
        let extension = path.extension().and_then(|e| e.to_str());
        let check: fn(&str, bool) -> Result<(), String> = match extension {
            Some("svg") => {
                svgs += 1;
                |text, _| check_svg(text)
            }
            Some("json") => {
                jsons += 1;
                check_json
            }
            _ => continue,
        };
        let outcome = fs::read_to_string(path)
            .map_err(|e| format!("cannot read it: {e}"))
            .and_then(|text| check(&text, traces));
        if let Err(why) = outcome {
            problems.push(format!("{}: {why}", path.display()));
        }
    }
    if svgs == 0 {
        problems.push(format!("{}: no SVG file in the folder", dir.display()));
    }
    if problems.is_empty() {
        Ok(format!("{svgs} SVG and {jsons} JSON files parse"))
    } else {
        Err(problems)
    }
}

/// An SVG file: XML whose root element is `<svg>`.
fn check_svg(text: &str) -> Result<(), String> {
    let document = roxmltree::Document::parse(text).map_err(|e| format!("not XML: {e}"))?;
    let root = document.root_element().tag_name().name();
    if root == "svg" {
        Ok(())
    } else {
        Err(format!("XML, but its root element is <{root}>, not <svg>"))
    }
}

/// A JSON file; a trace (an object with `traceEvents`, or any file when `must_be_trace`) needs
/// an array of events, each an object with a `ph` string.
fn check_json(text: &str, must_be_trace: bool) -> Result<(), String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let Some(events) = value.get("traceEvents") else {
        return if must_be_trace {
            Err("JSON, but not a trace: no traceEvents".to_owned())
        } else {
            Ok(())
        };
    };
    let events = events.as_array().ok_or("traceEvents is not an array")?;
    match events
        .iter()
        .position(|e| !e.get("ph").is_some_and(|ph| ph.is_string()))
    {
        Some(i) => Err(format!(
            "trace event {i} is not an object with a \"ph\" string"
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh folder under the system's temporary folder holding `files` (name, contents).
    fn folder(files: &[(&str, &str)]) -> PathBuf {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("check-pictures-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create a temporary folder");
        for (name, contents) in files {
            fs::write(dir.join(name), contents).expect("write a test file");
        }
        dir
    }

    const SVG: &str = r#"<svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>"#;
    const TRACE: &str = r#"{"traceEvents":[{"ph":"X","name":"a"},{"ph":"M"}]}"#;

    #[test]
    fn a_folder_of_good_pictures_passes_with_a_count() {
        let dir = folder(&[("a.svg", SVG), ("a.json", TRACE), ("notes.txt", "<not xml")]);
        assert_eq!(
            check_dir(&dir, true),
            Ok("1 SVG and 1 JSON files parse".to_owned())
        );
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn every_bad_file_is_named_on_a_line_of_its_own() {
        let dir = folder(&[
            ("broken.svg", "<svg><g></svg>"),
            ("html.svg", "<html/>"),
            ("good.svg", SVG),
            ("broken.json", "{\"traceEvents\": ["),
            ("flat.json", r#"{"traceEvents": {}}"#),
            (
                "phaseless.json",
                r#"{"traceEvents": [{"ph":"X"}, {"name":"x"}]}"#,
            ),
        ]);
        let problems = check_dir(&dir, false).expect_err("bad files");
        let lines: Vec<String> = problems
            .iter()
            .map(|p| {
                p.strip_prefix(&format!("{}/", dir.display()))
                    .unwrap_or(p)
                    .to_owned()
            })
            .collect();
        assert_eq!(lines.len(), 5, "{lines:#?}");
        assert!(
            lines[0].starts_with("broken.json: not JSON"),
            "{}",
            lines[0]
        );
        assert!(lines[1].starts_with("broken.svg: not XML"), "{}", lines[1]);
        assert_eq!(lines[2], "flat.json: traceEvents is not an array");
        assert_eq!(
            lines[3],
            "html.svg: XML, but its root element is <html>, not <svg>"
        );
        assert_eq!(
            lines[4],
            "phaseless.json: trace event 1 is not an object with a \"ph\" string"
        );
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn json_without_trace_events_passes_unless_traces_are_required() {
        let dir = folder(&[("chart.svg", SVG), ("data.json", r#"{"points": [1, 2]}"#)]);
        assert!(check_dir(&dir, false).is_ok());
        let problems = check_dir(&dir, true).expect_err("--traces");
        assert_eq!(problems.len(), 1);
        assert!(problems[0].ends_with("data.json: JSON, but not a trace: no traceEvents"));
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn a_missing_folder_or_one_without_an_svg_fails() {
        let missing = std::env::temp_dir().join("check-pictures-does-not-exist");
        let problems = check_dir(&missing, false).expect_err("missing");
        assert!(
            problems[0].contains("cannot read the folder"),
            "{problems:?}"
        );
        let dir = folder(&[("a.json", TRACE)]);
        let problems = check_dir(&dir, false).expect_err("no SVG");
        assert_eq!(
            problems,
            [format!("{}: no SVG file in the folder", dir.display())]
        );
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn usage_needs_a_folder_and_knows_its_one_option() {
        let args = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<_>>();
        assert_eq!(
            parse_args(&args(&["--traces", "a", "b"])),
            Ok((true, vec![PathBuf::from("a"), PathBuf::from("b")]))
        );
        assert_eq!(
            parse_args(&args(&["a"])),
            Ok((false, vec![PathBuf::from("a")]))
        );
        assert!(parse_args(&args(&[])).is_err());
        assert!(parse_args(&args(&["--traces"])).is_err());
        assert_eq!(
            parse_args(&args(&["--svg", "a"])),
            Err("unknown option --svg".to_owned())
        );
    }
}
