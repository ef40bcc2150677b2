//! Sentences once found false in the course's prose, kept from coming back.
//!
//! A review of the guides, the READMEs and the lesson headers found claims that a careful reader
//! (or a Node developer who knows their runtime) would catch: "loom runs every interleaving",
//! "safe Rust forbids races", a panic message in a form the compiler no longer prints. Each was
//! rewritten; this test scans the same prose for the wording of each, and fails naming the file,
//! the line and why the wording is wrong.
//!
//! The prose scanned: every guide (`level-*/guides/*.md`, code blocks included, since their
//! comments and quoted output are read as much as the text), the level READMEs and the top
//! README, the doc comments of each level's `src/lib.rs`, and the `//!` headers of the lessons and
//! projects (`level-*/examples/*.rs`).
//!
//! Each claim below matched the false wording it was written for when it was added (the test
//! failed on the unfixed text, naming each place), and matches nothing true that the course
//! says today.
//!
//! A claim is matched per paragraph (lines up to a blank line), with case and line breaks
//! ignored, so that a phrase wrapped over two lines is still found. A claim may list words whose
//! presence in the same paragraph makes it true (the exact wording that was missing): then the
//! paragraph is not flagged.

use std::fs;
use std::path::{Path, PathBuf};

/// The levels, each a crate with `guides/`, `examples/`, `src/lib.rs` and a README.
const LEVELS: [&str; 3] = ["level-1-basics", "level-2-intermediate", "level-3-advanced"];

/// Why "race" alone is wrong where "data race" is meant.
const DATA_RACES_ONLY: &str = "safe Rust rules out DATA races (unsynchronised access to the same \
    memory, one of them a write), not race conditions: a lost update through a separate atomic \
    load and store, or a deadlock, compiles (lesson l3-01-lost-update); say \"data race\"";

/// Why "every interleaving" is wrong about loom.
const LOOM_IS_BOUNDED: &str = "loom explores the interleavings of the operations on its own types \
    within its limits (a few threads, a branch budget, an optional preemption bound), treats \
    SeqCst loads and stores as AcqRel and does not explore load buffering: not every \
    interleaving, nor every reordering the memory model allows";

/// Why a move is not "nothing copied".
const A_MOVE_COPIES_THE_HEADER: &str = "a move copies the value itself (for a Vec its 24-byte \
    header: pointer, capacity, length); what it does not copy is the heap buffer behind it";

/// A wording found false, and why.
#[derive(Debug)]
struct Claim {
    /// Every one of these occurs in the paragraph (case and line breaks ignored; the first is the
    /// one whose line is reported)...
    all: &'static [&'static str],
    /// ...and none of these: a paragraph with one of them says the missing part.
    unless: &'static [&'static str],
    /// What is wrong with the wording, and what is true.
    reason: &'static str,
}

const CLAIMS: &[Claim] = &[
    Claim {
        all: &["every interleaving"],
        unless: &[],
        reason: LOOM_IS_BOUNDED,
    },
    Claim {
        all: &["every reordering"],
        unless: &[],
        reason: LOOM_IS_BOUNDED,
    },
    Claim {
        all: &["' panicked"],
        // The course's own one-line hook (`shared::panics::quiet_hook`) prints no thread id.
        unless: &["[panic hook]"],
        reason: "a panic message quoted in the form of older compilers: Rust 1.95 prints \
            `thread 'NAME' (TID) panicked at FILE:LINE:COL:`, with the thread's id after its name",
    },
    Claim {
        all: &["rules races out"],
        unless: &[],
        reason: DATA_RACES_ONLY,
    },
    Claim {
        all: &["let two threads race"],
        unless: &[],
        reason: DATA_RACES_ONLY,
    },
    Claim {
        all: &["threads from racing"],
        unless: &[],
        reason: DATA_RACES_ONLY,
    },
    Claim {
        all: &["never race on"],
        unless: &[],
        reason: DATA_RACES_ONLY,
    },
    Claim {
        all: &["os.cpus().length", "available_parallelism"],
        unless: &["availableparallelism"],
        reason: "Node's counterpart of `available_parallelism()` is `os.availableParallelism()` \
            (Node 18.14 and later), not `os.cpus().length`",
    },
    Claim {
        all: &["exactly `atomics.wait`"],
        unless: &[],
        reason: "atomic_wait has the compare-and-sleep idea of `Atomics.wait`, not its exact \
            semantics: `u32` only, no timeout, and no \"ok\" / \"not-equal\" / \"timed-out\" result",
    },
    Claim {
        all: &["one thread per core", "rayon"],
        unless: &[],
        reason: "rayon's global pool has one thread per logical CPU (what \
            `available_parallelism()` reports), unless RAYON_NUM_THREADS says otherwise",
    },
    Claim {
        all: &["ctrlc", "sigterm"],
        unless: &["termination"],
        reason: "the `ctrlc` crate catches SIGTERM only with its `termination` feature; the course \
            uses signal-hook",
    },
    Claim {
        all: &["memoryusage", "include the workers"],
        unless: &["rss"],
        reason: "`process.memoryUsage()`'s heapUsed and heapTotal cover one isolate, but its rss \
            is the whole process's resident memory, the workers' included",
    },
    Claim {
        all: &["memoryusage", "main thread's heap"],
        unless: &["rss"],
        reason: "`process.memoryUsage()`'s heapUsed and heapTotal cover one isolate, but its rss \
            is the whole process's resident memory, the workers' included",
    },
    Claim {
        all: &["not the process", "panic"],
        unless: &["unwind"],
        reason: "a panic ends its thread and not the process only with panic = \"unwind\" (the \
            default); with panic = \"abort\" the whole process ends",
    },
    Claim {
        all: &["strong_count(", ") >= 1"],
        unless: &[],
        reason: "`Arc::strong_count(..) >= 1` cannot fail while the caller holds an Arc: assert an \
            exact count at a point where it is known",
    },
    Claim {
        all: &["nothing is copied"],
        unless: &[],
        reason: A_MOVE_COPIES_THE_HEADER,
    },
    Claim {
        all: &["no bytes were copied"],
        unless: &[],
        reason: A_MOVE_COPIES_THE_HEADER,
    },
    Claim {
        all: &["only between `.await`s"],
        unless: &[],
        reason: "on a multi-threaded async runtime tasks do run in parallel; what is true is that \
            CPU work between two `.await`s holds the runtime's worker thread it runs on",
    },
    Claim {
        all: &[".clone())", "moves the vec"],
        unless: &[],
        reason: "`Arc::new(data.clone())` copies the buffer first; only `Arc::new(data)` moves \
            the Vec",
    },
    Claim {
        all: &["deadlock_detection"],
        unless: &["check_deadlock"],
        reason: "parking_lot's deadlock detection is the cargo feature `deadlock_detection`, sees \
            only parking_lot's own locks, and finds a cycle only when a thread of the program \
            calls `parking_lot::deadlock::check_deadlock()`",
    },
    Claim {
        all: &["signal-hook's advice"],
        unless: &["docs.rs/signal-hook"],
        reason: "an attribution with no source: cite the place in signal-hook's documentation, or \
            drop it",
    },
    Claim {
        all: &["second ctrl-c should"],
        unless: &[],
        reason: "the course's services (lessons l3-35 and l3-36) deliberately keep draining on a \
            second signal, because the drain has its own deadline; present exit-on-second-signal \
            as the other policy, with its reason",
    },
];

/// Claims still present in files that are not guides, left for whoever owns those files:
/// (file, the claim's first phrase). Each is printed as a note instead of failing the test; an
/// entry that no longer matches anything fails it, so that the entry is removed with the fix.
/// The guides have no entry here: they are kept clean.
const PENDING_ELSEWHERE: &[(&str, &str)] = &[];

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits inside the repository")
        .to_path_buf()
}

/// Which lines of a file are prose to check.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// Markdown: every line.
    Markdown,
    /// A library root: its `//!` and `///` doc comments.
    DocComments,
    /// A lesson or project: its `//!` header.
    Header,
}

/// The files scanned, with the kind of prose each holds.
fn scanned_files() -> Vec<(PathBuf, Kind)> {
    let root = repository();
    let mut files = vec![(root.join("README.md"), Kind::Markdown)];
    for level in LEVELS {
        let level = root.join(level);
        files.push((level.join("README.md"), Kind::Markdown));
        files.push((level.join("src").join("lib.rs"), Kind::DocComments));
        for (folder, extension, kind) in [
            ("guides", "md", Kind::Markdown),
            ("examples", "rs", Kind::Header),
        ] {
            let dir = level.join(folder);
            let entries = fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            for entry in entries {
                let path = entry.expect("readable directory entry").path();
                if path.extension().is_some_and(|e| e == extension) {
                    files.push((path, kind));
                }
            }
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

/// The prose of `source`: (line number from 1, text) for each line that is checked, with an
/// empty text for a line that ends a paragraph.
fn prose_lines(source: &str, kind: Kind) -> Vec<(usize, String)> {
    source
        .lines()
        .enumerate()
        .map(|(i, line)| {
            let text = match kind {
                Kind::Markdown => Some(line),
                Kind::DocComments => {
                    let trimmed = line.trim_start();
                    trimmed
                        .strip_prefix("//!")
                        .or_else(|| trimmed.strip_prefix("///"))
                }
                Kind::Header => line.trim_start().strip_prefix("//!"),
            };
            (i + 1, text.unwrap_or("").trim().to_lowercase())
        })
        .collect()
}

/// Each paragraph of `lines` as one string with single spaces between words, and the line
/// number each of its characters came from.
fn paragraphs(lines: &[(usize, String)]) -> Vec<(String, Vec<usize>)> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut line_of = Vec::new();
    for (number, line) in lines.iter().chain([&(0, String::new())]) {
        if line.is_empty() {
            if !text.is_empty() {
                out.push((std::mem::take(&mut text), std::mem::take(&mut line_of)));
            }
            continue;
        }
        for word in line.split_whitespace() {
            if !text.is_empty() {
                text.push(' ');
                line_of.push(*number);
            }
            text.push_str(word);
            line_of.extend(std::iter::repeat_n(*number, word.len()));
        }
    }
    out
}

/// The line of each paragraph of `lines` that makes `claim` (at its first phrase), if any.
fn violations(lines: &[(usize, String)], claim: &Claim) -> Vec<usize> {
    let mut found = Vec::new();
    for (text, line_of) in paragraphs(lines) {
        let has_all = claim.all.iter().all(|phrase| text.contains(phrase));
        let excused = claim.unless.iter().any(|word| text.contains(word));
        if has_all && !excused {
            let at = text.find(claim.all[0]).expect("found above");
            found.push(line_of[at]);
        }
    }
    found
}

#[test]
fn no_sentence_found_false_comes_back() {
    let root = repository();
    let mut problems = Vec::new();
    let mut pending_seen = vec![false; PENDING_ELSEWHERE.len()];
    for (path, kind) in scanned_files() {
        let source =
            fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let lines = prose_lines(&source, kind);
        let shown = path
            .strip_prefix(&root)
            .unwrap_or(&path)
            .to_string_lossy()
            .replace('\\', "/");
        for claim in CLAIMS {
            for line in violations(&lines, claim) {
                let report = format!("{shown}:{line}: {:?}: {}", claim.all, claim.reason);
                let pending = PENDING_ELSEWHERE
                    .iter()
                    .position(|&(file, phrase)| file == shown && phrase == claim.all[0]);
                match pending {
                    Some(i) => {
                        pending_seen[i] = true;
                        eprintln!("note: still to fix outside the guides: {report}");
                    }
                    None => problems.push(report),
                }
            }
        }
    }
    for (&(file, phrase), seen) in PENDING_ELSEWHERE.iter().zip(pending_seen) {
        if !seen {
            problems.push(format!(
                "{file}: no longer says {phrase:?}: remove its entry from PENDING_ELSEWHERE"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "\n{} sentence(s) found false before are back:\n{}\n",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn nothing_in_the_guides_is_left_pending() {
    for (file, phrase) in PENDING_ELSEWHERE {
        assert!(
            !file.contains("/guides/"),
            "{file}: the guides are kept clean"
        );
        assert!(
            CLAIMS.iter().any(|claim| claim.all[0] == *phrase),
            "{phrase:?} is the first phrase of no claim"
        );
    }
}

#[test]
fn every_claim_is_lower_case_and_nonempty() {
    // The prose is lower-cased before matching, so a phrase with a capital letter never matches.
    for claim in CLAIMS {
        assert!(!claim.all.is_empty(), "{claim:?}");
        for phrase in claim.all.iter().chain(claim.unless) {
            assert!(!phrase.is_empty(), "{claim:?}");
            assert_eq!(*phrase, phrase.to_lowercase(), "{claim:?}");
            assert_eq!(
                phrase.split_whitespace().collect::<Vec<_>>().join(" "),
                *phrase,
                "single spaces only: {claim:?}"
            );
        }
    }
}

#[test]
fn the_matcher_finds_wrapped_phrases_and_respects_the_excusing_words() {
    let claim = Claim {
        all: &["rules races out"],
        unless: &[],
        reason: "",
    };
    let wrapped = "Intro.\n\nSafe Rust rules\nraces out with three checks.\n";
    assert_eq!(
        violations(&prose_lines(wrapped, Kind::Markdown), &claim),
        [3]
    );
    let fixed = "Safe Rust rules data races out.\n";
    assert!(violations(&prose_lines(fixed, Kind::Markdown), &claim).is_empty());

    let excusable = Claim {
        all: &["ctrlc", "sigterm"],
        unless: &["termination"],
        reason: "",
    };
    let without = "`ctrlc` turns\nSIGTERM into a cancel.\n\nOther text.\n";
    assert_eq!(
        violations(&prose_lines(without, Kind::Markdown), &excusable),
        [1]
    );
    let with = "`ctrlc` (with its `termination`\nfeature) turns SIGTERM into a cancel.\n";
    assert!(violations(&prose_lines(with, Kind::Markdown), &excusable).is_empty());
    // Split over two paragraphs, the two words do not make one claim.
    let apart = "`ctrlc` here.\n\nSIGTERM there.\n";
    assert!(violations(&prose_lines(apart, Kind::Markdown), &excusable).is_empty());

    // In a Rust file only the doc comments (or the `//!` header) are prose.
    let code = "//! Every interleaving, claimed.\nfn main() {} // every interleaving in code\n";
    let loom = &CLAIMS[0];
    assert_eq!(violations(&prose_lines(code, Kind::Header), loom), [1]);
    let lib = "/// every\n/// interleaving\nconst X: u8 = 0; // every interleaving\n";
    assert_eq!(violations(&prose_lines(lib, Kind::DocComments), loom), [1]);
}
