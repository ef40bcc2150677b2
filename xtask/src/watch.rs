//! `cargo exercise watch`: check the current exercise whenever a file of its level is saved,
//! and move on to the next unfinished one when it passes.
//!
//! Keys are read a line at a time (type the letter, then Enter), which works in any terminal
//! and from a pipe, with no raw mode to restore if the runner is killed. On a terminal the
//! screen is cleared before each check; elsewhere each check is separated by a rule.

use crate::commands::{self, Mode, check_one, next_unfinished, show_next_hint};
use crate::course::{Exercise, relative};
use crate::state::State;
use crate::ui::Ui;
use anyhow::{Context, Result};
use notify::{EventKind, RecursiveMode, Watcher};
use std::collections::VecDeque;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::Duration;

/// Editors save in bursts (write, rename, touch): the check waits for this much quiet.
const DEBOUNCE: Duration = Duration::from_millis(200);

enum Event {
    Changed(PathBuf),
    Key(String),
}

pub fn watch(root: &Path, exercises: &[Exercise], id: Option<&str>) -> Result<bool> {
    let ui = Ui::new(true);
    let Some(first) = commands::chosen(root, exercises, id)? else {
        println!("Every exercise passed its last check: `cargo exercise watch ID` watches one.");
        return Ok(true);
    };
    let mut current = first.clone();

    let (tx, rx) = mpsc::channel();
    let files_tx = tx.clone();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if matches!(event.kind, EventKind::Create(_) | EventKind::Modify(_)) {
            for path in event.paths {
                let _ = files_tx.send(Event::Changed(path));
            }
        }
    })
    .context("could not watch the files")?;
    let mut watched: Vec<String> = exercises.iter().map(|e| e.package.clone()).collect();
    watched.dedup();
    for package in &watched {
        for dir in ["src", "tests"] {
            let dir = root.join(package).join(dir);
            watcher
                .watch(&dir, RecursiveMode::Recursive)
                .with_context(|| format!("could not watch {}", dir.display()))?;
        }
    }
    thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(Event::Key(line.trim().to_owned())).is_err() {
                break;
            }
        }
    });

    let mut keys: VecDeque<String> = VecDeque::new();
    loop {
        if ui.terminal {
            // Clear the screen and go to its top: each check starts on a clean page.
            print!("\u{1b}[2J\u{1b}[H");
        } else {
            println!("\n{}", "-".repeat(72));
        }
        if check_one(root, &current, &ui, Mode::Watch)? {
            match next_unfinished(exercises, &State::load(root), Some(&current.id)) {
                Some(next) => {
                    println!(
                        "\nNext: {next}, in {}. Watching it now: save it to check it.",
                        relative(root, &next.stub)
                    );
                    current = next.clone();
                }
                None => {
                    println!("\nEvery exercise passes. Well played.");
                    return Ok(true);
                }
            }
        }
        println!(
            "\n{}",
            ui.dim(&format!(
                "Watching {} for saved files. Keys (then Enter): h hint, l list, q quit.",
                current.package
            ))
        );

        // Wait for a save in the current exercise's level, answering keys meanwhile.
        loop {
            let event = match keys.pop_front() {
                Some(key) => Event::Key(key),
                None => rx.recv().context("the watcher stopped")?,
            };
            match event {
                Event::Changed(path) if is_source_of(root, &current, &path) => {
                    settle(&rx, &mut keys);
                    break;
                }
                Event::Changed(_) => {}
                Event::Key(key) => match key.as_str() {
                    "h" => {
                        println!();
                        show_next_hint(root, &current, &ui)?;
                    }
                    "l" => {
                        println!();
                        commands::list(root, exercises);
                    }
                    "q" => return Ok(true),
                    "" => {}
                    other => println!(
                        "Unknown key `{other}`: h (hint), l (list) or q (quit), then Enter."
                    ),
                },
            }
        }
    }
}

/// A Rust file of the current exercise's level.
fn is_source_of(root: &Path, ex: &Exercise, path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "rs") && path.starts_with(root.join(&ex.package))
}

/// Waits until the files have been quiet for [`DEBOUNCE`], keeping any keys typed meanwhile.
fn settle(rx: &Receiver<Event>, keys: &mut VecDeque<String>) {
    loop {
        match rx.recv_timeout(DEBOUNCE) {
            Ok(Event::Changed(_)) => {}
            Ok(Event::Key(key)) => keys.push_back(key),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return,
        }
    }
}
