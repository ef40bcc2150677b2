//! The shape every lesson keeps, checked on the repository itself.
//!
//! A lesson (`level-N-*/examples/lN-NN-name.rs`; the `l3-pN` project front ends are not
//! lessons) teaches one idea, so it stays short: at most [`MAX_LESSON_LINES`] lines with its
//! header. Its header names it, `fn main` is its first function so that the story comes before
//! the helpers, and it prints its `result:` line. Lessons are numbered without gaps or repeats
//! within a level, and every lesson or project that the documentation, CI, scripts or code
//! comments name exists, so a renamed lesson cannot leave a dead command behind. A README's
//! "Old lesson names" table is the one place an old name may appear, and only in its first
//! column.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// The most lines a lesson may have, its header included.
const MAX_LESSON_LINES: usize = 200;

/// The levels, each a crate with an `examples/` folder of lessons.
const LEVELS: [&str; 3] = ["level-1-basics", "level-2-intermediate", "level-3-advanced"];

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits inside the repository")
        .to_path_buf()
}

/// What kind of binary a file in `examples/` is, from its name.
#[derive(Debug, PartialEq)]
enum Kind {
    /// `lN-NN-name`: a lesson, with its level and number.
    Lesson { level: u32, number: u32 },
    /// `l3-pN-name`: a practice project's front end.
    Project,
}

/// Parses `l2-01-worker-pool` or `l3-p1-image-processor`; `None` for anything else.
fn kind_of(name: &str) -> Option<Kind> {
    let rest = name.strip_prefix('l')?;
    let (level, rest) = rest.split_once('-')?;
    let level: u32 = level.parse().ok().filter(|l| (1..=3).contains(l))?;
    let (number, title) = rest.split_once('-')?;
    let title_ok = !title.is_empty()
        && !title.ends_with('-')
        && title
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !title_ok {
        return None;
    }
    if let Some(project) = number.strip_prefix('p') {
        return (project.len() == 1 && project.parse::<u32>().is_ok()).then_some(Kind::Project);
    }
    if number.len() != 2 {
        return None;
    }
    let number = number.parse().ok()?;
    Some(Kind::Lesson { level, number })
}

/// Every example in the levels' `examples/` folders, as cargo finds them: (name, its main
/// file). An example is a file, `NAME.rs`, or a folder, `NAME/main.rs` with its modules.
fn example_files() -> Vec<(String, PathBuf)> {
    let mut files = Vec::new();
    for level in LEVELS {
        let dir = repository().join(level).join("examples");
        for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("readable directory entry").path();
            if path.extension().is_some_and(|e| e == "rs") {
                let name = path.file_stem().unwrap().to_string_lossy().into_owned();
                files.push((name, path));
            } else if path.join("main.rs").is_file() {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                files.push((name, path.join("main.rs")));
            }
        }
    }
    files.sort();
    files
}

fn lessons() -> Vec<(String, PathBuf)> {
    example_files()
        .into_iter()
        .filter(|(name, _)| matches!(kind_of(name), Some(Kind::Lesson { .. })))
        .collect()
}

/// The name of the first function or `impl` block written at the start of a line, if any.
fn first_item(source: &str) -> Option<String> {
    source.lines().find_map(|line| {
        if line.starts_with("impl") {
            return Some(line.trim_end_matches(" {").to_owned());
        }
        let mut words = line.split_whitespace().peekable();
        while let Some(word) = words.peek() {
            if *word == "pub"
                || word.starts_with("pub(")
                || ["const", "async", "unsafe"].contains(word)
            {
                words.next();
            } else {
                break;
            }
        }
        if line.starts_with(char::is_whitespace) || words.next() != Some("fn") {
            return None;
        }
        let name = words.next()?;
        Some(format!(
            "fn {}",
            name.split(['(', '<']).next().unwrap_or(name)
        ))
    })
}

#[test]
fn the_example_folders_hold_only_lessons_and_projects() {
    let strangers: Vec<_> = example_files()
        .into_iter()
        .filter(|(name, _)| kind_of(name).is_none())
        .map(|(_, path)| path)
        .collect();
    assert!(
        strangers.is_empty(),
        "these examples are named neither lN-NN-name (a lesson) nor l3-pN-name (a project): \
         {strangers:?}"
    );
    // A lesson is one file, read in one screen; only a project's front end may be a folder.
    let folded: Vec<_> = example_files()
        .into_iter()
        .filter(|(name, path)| path.ends_with("main.rs") && kind_of(name) != Some(Kind::Project))
        .map(|(_, path)| path)
        .collect();
    assert!(
        folded.is_empty(),
        "these examples are folders but not projects (a lesson is one file): {folded:?}"
    );
}

#[test]
fn every_lesson_is_short_names_itself_starts_with_main_and_prints_its_result() {
    let mut problems = Vec::new();
    for (name, path) in lessons() {
        let source = fs::read_to_string(&path).expect("readable lesson");
        let lines = source.lines().count();
        if lines > MAX_LESSON_LINES {
            problems.push(format!(
                "{name}: {lines} lines, more than {MAX_LESSON_LINES}: split it, one idea per lesson"
            ));
        }
        let id: String = name.splitn(3, '-').take(2).collect::<Vec<_>>().join("-");
        let header = format!("//! # Lesson {id}: ");
        if !source.starts_with(&header) {
            problems.push(format!(
                "{name}: the first line should start with `{header}`"
            ));
        }
        match first_item(&source) {
            Some(item) if item == "fn main" => {}
            Some(item) => problems.push(format!(
                "{name}: `fn main` should be the first function, but `{item}` comes first"
            )),
            None => problems.push(format!("{name}: no `fn main` found at the start of a line")),
        }
        if !source.contains("result: ") {
            problems.push(format!("{name}: prints no `result: ` line"));
        }
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

#[test]
fn lessons_are_numbered_from_one_without_gaps_or_repeats() {
    let mut numbers: BTreeMap<u32, Vec<(u32, String)>> = BTreeMap::new();
    for (name, _) in lessons() {
        if let Some(Kind::Lesson { level, number }) = kind_of(&name) {
            numbers.entry(level).or_default().push((number, name));
        }
    }
    let mut problems = Vec::new();
    for (level, mut found) in numbers {
        found.sort();
        for (expected, (number, name)) in (1..).zip(&found) {
            if *number != expected {
                problems.push(format!(
                    "level {level}: expected lesson number {expected:02}, found {name}"
                ));
                break;
            }
        }
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

/// The files whose mentions of lessons and projects must name real ones: documentation, CI,
/// scripts, and the Rust sources of the levels, `shared`, `benches` and `xtask`.
fn files_that_name_lessons() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if !["target", ".git", "pristine", "node_modules"].contains(&name.as_str()) {
                    walk(&path, out);
                }
            } else if name.ends_with(".md") || name.ends_with(".rs") || name.ends_with(".sh") {
                out.push(path);
            }
        }
    }
    let root = repository();
    let mut files = vec![root.join(".ci/run"), root.join(".ci/loom-miri-nightly")];
    for dir in LEVELS.iter().copied().chain(["shared", "benches", "xtask"]) {
        walk(&root.join(dir), &mut files);
    }
    files.push(root.join("README.md"));
    files.sort();
    files
}

/// The lesson and project names in one line: maximal runs of `[a-z0-9-]` that parse as one,
/// except a picture's file name (`l2-24-round-robin.svg`, `.json`): the timelines a lesson
/// writes are named `<lesson>-<case>`, which reads like a lesson name.
fn names_in(line: &str) -> Vec<String> {
    let is_name_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    let mut names = Vec::new();
    let mut rest = line;
    while let Some(start) = rest.find(is_name_char) {
        let after = &rest[start..];
        let end = after
            .find(|c: char| !is_name_char(c))
            .unwrap_or(after.len());
        let (word, following) = after.split_at(end);
        let word = word.trim_matches('-');
        let picture = following.starts_with(".svg") || following.starts_with(".json");
        if kind_of(word).is_some() && !picture {
            names.push(word.to_owned());
        }
        rest = following;
    }
    names
}

/// Whether a line of a `.rs` file speaks of lessons: a comment, or a command that runs one.
/// (Other code may build file names that look like lessons, such as a test's scratch file.)
fn rust_line_names_lessons(line: &str) -> bool {
    let line = line.trim_start();
    line.starts_with("//") || line.contains("--example") || line.contains("examples/")
}

#[test]
fn every_lesson_or_project_named_anywhere_exists() {
    let root = repository();
    let existing: Vec<String> = example_files().into_iter().map(|(name, _)| name).collect();
    let mut problems = Vec::new();
    for file in files_that_name_lessons() {
        let Ok(text) = fs::read_to_string(&file) else {
            continue;
        };
        let is_rust = file.extension().is_some_and(|e| e == "rs");
        let mut in_old_names = false;
        for (number, line) in text.lines().enumerate() {
            if line.starts_with('#') && !is_rust {
                in_old_names = line.to_ascii_lowercase().contains("old lesson names");
            }
            if is_rust && !rust_line_names_lessons(line) {
                continue;
            }
            // In the old-names table, the first column holds the names that are gone.
            let checked = if in_old_names && line.starts_with('|') {
                line.splitn(3, '|').nth(2).unwrap_or("")
            } else {
                line
            };
            for name in names_in(checked) {
                if !existing.contains(&name) {
                    problems.push(format!(
                        "{}:{}: names `{name}`, which is not a file in any level's examples/",
                        file.strip_prefix(&root).unwrap_or(&file).display(),
                        number + 1
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

#[test]
fn the_parser_knows_lessons_from_projects_and_from_other_words() {
    assert_eq!(
        kind_of("l2-07-profiling"),
        Some(Kind::Lesson {
            level: 2,
            number: 7
        })
    );
    assert_eq!(kind_of("l3-p1-image-processor"), Some(Kind::Project));
    for not_a_lesson in [
        "l4-01-x",
        "l1-1-x",
        "l1-01",
        "l1-01-",
        "l3-p12-x",
        "level-1-basics",
    ] {
        assert_eq!(kind_of(not_a_lesson), None, "{not_a_lesson}");
    }
    assert_eq!(
        names_in("run `cargo run --example l1-01-basic-worker`, then l3-p1-image-processor."),
        ["l1-01-basic-worker", "l3-p1-image-processor"]
    );
    assert_eq!(
        names_in("l2-24-round-robin.svg, l2-24-round-robin.json, l2-24-round-robin, l2-01-x.rs"),
        ["l2-24-round-robin", "l2-01-x"]
    );
    assert_eq!(
        first_item("use x;\n\nfn main() {\n}\nfn helper() {}\n").as_deref(),
        Some("fn main")
    );
    assert_eq!(
        first_item("struct A;\nimpl A {\n    fn new() {}\n}\nfn main() {}\n").as_deref(),
        Some("impl A")
    );
    assert_eq!(
        first_item("pub(crate) fn helper<T>() {}\nfn main() {}\n").as_deref(),
        Some("fn helper")
    );
}

/// The most lines a file of a practice project may have, in its library code or its front end.
const MAX_PROJECT_FILE_LINES: usize = 600;

#[test]
fn practice_project_files_are_readable_in_parts() {
    fn walk(dir: &Path, problems: &mut Vec<String>) {
        for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("readable directory entry").path();
            if path.is_dir() {
                walk(&path, problems);
            } else if path.extension().is_some_and(|e| e == "rs") {
                check(&path, problems);
            }
        }
    }
    fn check(path: &Path, problems: &mut Vec<String>) {
        let source = fs::read_to_string(path).expect("readable source");
        let lines = source.lines().count();
        if lines > MAX_PROJECT_FILE_LINES {
            problems.push(format!(
                "{}: {lines} lines, more than {MAX_PROJECT_FILE_LINES}: split it by \
                 responsibility",
                path.display()
            ));
        }
        if !source.starts_with("//!") {
            problems.push(format!(
                "{}: starts without a `//!` comment saying what it holds",
                path.display()
            ));
        }
    }
    let mut problems = Vec::new();
    walk(
        &repository().join("level-3-advanced/src/projects"),
        &mut problems,
    );
    // The front ends too: a project's example file, or every file of its example folder.
    for (name, path) in example_files() {
        if kind_of(&name) == Some(Kind::Project) {
            if path.ends_with("main.rs") {
                walk(path.parent().unwrap(), &mut problems);
            } else {
                check(&path, &mut problems);
            }
        }
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}
