//! Project l3-p5's `--processes` mode: the search as a timely dataflow over several processes
//! on 127.0.0.1, checked against the threaded search.
//!
//! The library tests run each "process" of a cluster as a thread of this test (timely does not
//! mind: each has its own worker and its own TCP connections). The command-line tests build
//! the example once and run it with `--processes 2`, so that it starts a real second process;
//! every run has a deadline, and is killed and fails the test after it (`support`).

mod support;

use level_3_advanced::projects::cracker::{
    BLOCK, Cluster, Keyspace, MAX_LEAD_ROUNDS, MAX_PROCESSES, Options, Outcome, Target, crack,
    crack_distributed,
};
use shared::testing::{TIMEOUT, run_within};
use std::net::TcpListener;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};
use support::{Output, run_with_deadline};

const P5: &str = "l3-p5-hash-cracker";

/// How long one run may take: the longest here is a 4-letter search in a debug build, a few
/// seconds, twice (one thread, then two processes).
const RUN_DEADLINE: Duration = Duration::from_secs(120);

/// Runs the example with `args` (and `env`), with `RUST_BACKTRACE=1` as a learner would have it.
fn cracker(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(support::examples_dir(&[P5]).join(P5));
    command.args(args).env("RUST_BACKTRACE", "1");
    for (key, value) in env {
        command.env(key, value);
    }
    run_with_deadline(command, RUN_DEADLINE, &format!("{P5} {args:?}"))
}

/// A distributed search with `processes` processes, each a thread of this test, on ports
/// picked free here (bind port 0, read it back). Process 0's outcome.
fn distributed(target: Target, max_len: usize, processes: usize) -> Outcome {
    run_within(TIMEOUT * 6, "crack_distributed", move || {
        let keyspace = Keyspace::new(max_len).expect("a valid max length");
        let listeners: Vec<TcpListener> = (0..processes)
            .map(|_| TcpListener::bind("127.0.0.1:0").expect("a free port"))
            .collect();
        let addresses: Vec<String> = listeners
            .iter()
            .map(|l| l.local_addr().unwrap().to_string())
            .collect();
        let mut others = Vec::new();
        let mut listeners = listeners.into_iter();
        let first = listeners.next();
        for (index, listener) in listeners.enumerate() {
            let cluster = Cluster {
                index: index + 1,
                addresses: addresses.clone(),
                exit_after_blocks: None,
            };
            others.push(thread::spawn(move || {
                crack_distributed(&target, keyspace, &cluster, Some(listener))
            }));
        }
        let cluster = Cluster {
            index: 0,
            addresses,
            exit_after_blocks: None,
        };
        let outcome = crack_distributed(&target, keyspace, &cluster, first);
        for other in others {
            other.join().expect("a process thread panicked")?;
        }
        outcome
    })
    .expect("the distributed search failed")
}

/// The threaded search's answer, for comparison.
fn threaded(target: Target, max_len: usize) -> Outcome {
    let keyspace = Keyspace::new(max_len).unwrap();
    crack(&target, keyspace, &Options::with_threads(2)).expect("the threaded search failed")
}

#[test]
fn two_and_three_processes_find_what_the_threads_find() {
    let keyspace = Keyspace::new(3).unwrap();
    // Early; in process 1's first block; in process 0's second block; the very last candidate
    // (in the last, partial block); and a digest of no 3-letter word.
    let in_process_1 = keyspace.candidate(BLOCK + 904).unwrap();
    let in_process_0 = keyspace.candidate(2 * BLOCK + 7).unwrap();
    let targets = [
        Target::of_password("b"),
        Target::of_password(&in_process_1),
        Target::of_password(&in_process_0),
        Target::of_password("zzz"),
        Target::of_password("zzzz"),
    ];
    for processes in [2, 3] {
        for target in targets {
            let expected = threaded(target, 3);
            let got = distributed(target, 3, processes);
            let pair = |o: &Outcome| o.found.as_ref().map(|f| (f.password.clone(), f.index));
            assert_eq!(
                pair(&got),
                pair(&expected),
                "{target} with {processes} processes"
            );
            assert_eq!(
                got.tried_per_thread.len(),
                processes,
                "one count per process"
            );
            assert_eq!(got.tried, got.tried_per_thread.iter().sum::<u64>());
            if got.found.is_none() {
                assert_eq!(
                    got.tried,
                    keyspace.size(),
                    "not found: every candidate tried"
                );
            }
        }
    }
}

#[test]
fn a_find_stops_every_process_within_the_bounded_lead() {
    // 4 letters: 475,254 candidates, 117 blocks, far more than the bound for an early find.
    let keyspace = Keyspace::new(4).unwrap();
    for processes in [2, 3] {
        let n = processes as u64;
        for index in [0, BLOCK + 5, 5 * BLOCK + 3, 20 * BLOCK + 4000] {
            let password = keyspace.candidate(index).unwrap();
            let got = distributed(Target::of_password(&password), 4, processes);
            let found = got.found.as_ref().expect("the password is in the keyspace");
            assert_eq!(
                (found.password.as_str(), found.index),
                (password.as_str(), index)
            );
            // Block b is process b % n's, in round b / n; no process starts a round more than
            // MAX_LEAD_ROUNDS past the finder's without having seen the find.
            let finder_round = index / BLOCK / n;
            let bound = (finder_round + MAX_LEAD_ROUNDS + 1) * n * BLOCK;
            assert!(
                got.tried <= bound && bound < keyspace.size(),
                "{password:?} at {index} with {processes} processes: {} tried, bound {bound}",
                got.tried
            );
        }
    }
}

/// The part of a `result:` line that names the answer (the rest names the run).
fn answer(out: &Output) -> (Option<i32>, Option<String>) {
    let line = out.stdout.lines().find(|l| l.starts_with("result: "));
    let found = line.map(|l| l.split(" with ").next().unwrap().to_owned());
    (out.code(), found)
}

#[test]
fn the_command_line_agrees_with_the_threaded_mode_on_early_late_and_missing_passwords() {
    let missing = Target::of_password("zzzz").to_string();
    let cases: [&[&str]; 4] = [
        &["--password", "b", "--max-len", "3"],
        &["--password", "fzz", "--max-len", "3"],
        &["--password", "zzz", "--max-len", "3"],
        &["--hash", &missing, "--max-len", "3"],
    ];
    for case in cases {
        let threads = cracker(&[case, &["--threads", "2"]].concat(), &[]);
        let processes = cracker(&[case, &["--processes", "2"]].concat(), &[]);
        assert_eq!(
            answer(&processes),
            answer(&threads),
            "{case:?}: {processes:?}"
        );
        assert!(
            processes.stdout.contains("[main] per process: process-0 "),
            "{processes:?}"
        );
        if answer(&threads).1.is_none() {
            assert_eq!(processes.code(), Some(1), "{processes:?}");
            assert!(processes.stderr.starts_with("not found: "), "{processes:?}");
        } else {
            assert_eq!(processes.code(), Some(0), "{processes:?}");
        }
    }
}

#[test]
fn a_process_that_dies_mid_run_fails_the_run_in_one_line_within_the_deadline() {
    // Process 1 exits after one block of its share (the test hook); 4 letters are 475,254
    // candidates, far more than one block each.
    let missing = Target::of_password("zzzzz").to_string();
    let started = Instant::now();
    let out = cracker(
        &["--hash", &missing, "--max-len", "4", "--processes", "2"],
        &[("L3P5_TEST_EXIT_AFTER_BLOCKS", "1")],
    );
    assert!(started.elapsed() < RUN_DEADLINE);
    assert_eq!(out.code(), Some(1), "{out:?}");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr: {out:?}");
    assert!(lines[0].starts_with("error: "), "{out:?}");
    assert!(
        lines[0].contains("process 1 stopped before the search finished (exit status: 3"),
        "{out:?}"
    );
    assert!(!out.stdout.contains("result:"), "{out:?}");
}

#[test]
fn a_bad_process_count_is_refused_before_any_search() {
    let too_many = (MAX_PROCESSES + 1).to_string();
    for bad in ["0", too_many.as_str(), "two", "-1", ""] {
        let out = cracker(&["--password", "dog", "--processes", bad], &[]);
        assert_eq!(out.code(), Some(2), "--processes {bad:?}: {out:?}");
        assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
        assert!(out.stderr.starts_with("error: "), "{out:?}");
        assert!(out.stdout.is_empty(), "refused before any search: {out:?}");
    }
    for both in [
        &["--processes", "2", "--process", "1", "--peers", "a:1,b:2"][..],
        &["--processes", "2", "--threads", "2"][..],
        &["--process", "2", "--peers", "127.0.0.1:1,127.0.0.1:2"][..],
    ] {
        let out = cracker(both, &[]);
        assert_eq!(out.code(), Some(2), "{both:?}: {out:?}");
        assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
        assert!(out.stdout.is_empty(), "{out:?}");
    }
}
