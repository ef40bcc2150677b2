//! # Project l3-p5: a parallel hash cracker (for learning only)
//!
//! **Educational.** It recovers a short lowercase password from its plain, unsalted SHA-256
//! digest by trying every candidate. That works only because SHA-256 is fast and unsalted.
//! Real password storage uses slow, salted hashes (argon2, bcrypt, scrypt) precisely to
//! defeat this: the salt makes each user's digest unique, and the cost factor makes every
//! guess thousands of times slower. Never store passwords as plain SHA-256.
//!
//! The Node course names this project and builds nothing. In Node it would be a pool of
//! `Worker`s, each given a slice of the keyspace in `workerData`, posting `{ found }` back,
//! and the main thread calling `terminate()` on the rest. Here the threads share the search
//! directly: the keyspace is numbered (`a` = 0, ..., `z` = 25, `aa` = 26, ...), cut into
//! blocks dealt out round by round to the threads, and the thread that finds the password
//! raises an `AtomicBool` that every thread checks before each block of 4,096 candidates.
//! No thread is killed: each stops by itself within a block (see
//! `level_3_advanced::projects::cracker` for the design and its early-stop bound).
//!
//! Shows: the same search with one thread and then with several, each thread announcing when
//! it stops and how many candidates it hashed, the hashes per second of each run, and the
//! speedup. The default target sits about half-way through the five-letter passwords, far
//! enough in for the ratio to mean something; a target in the first few thousand candidates
//! is found before the threads are even all started, and says nothing about speed.
//!
//! Run: `cargo run --release --example l3-p5-hash-cracker` (a second or two; without
//! `--release` it is many times slower). Options:
//! - `--password WORD`: hash WORD (1 to max-len letters a-z) and search for it (default
//!   `mutex`);
//! - `--hash HEX`: search for a given SHA-256 digest instead, e.g. from
//!   `printf dog | sha256sum`;
//! - `--max-len N`: the longest password tried, 1 to 10 (default 5; every letter more is 26
//!   times the work: 7 letters is minutes, 8 is hours);
//! - `--threads N`: threads of the parallel run, 1 to 256 (default: the machine's logical
//!   cores);
//! - `--processes N`: make the parallel run a timely dataflow over N processes on 127.0.0.1,
//!   1 to 16, instead of threads (see below);
//! - `--verbose`: on an error, every cause on its own line.
//!
//! **`--processes N`.** This program is process 0: it binds a port for itself and picks N - 1
//! free ports on 127.0.0.1, starts N - 1 copies of itself with the role arguments `--process I
//! --peers ADDR,ADDR,...`, and joins them in one timely dataflow
//! (`level_3_advanced::projects::cracker::crack_distributed`). Process I of N owns the blocks
//! `b` with `b % N == I`. Early exit: the process that finds the password sends it on a
//! *broadcast* stream, and every process checks before each block whether a find has arrived.
//! The stream's timestamps are rounds, and a process starts a round only when timely's
//! progress tracking shows every process at most 8 rounds behind; a find holds that progress
//! back until it has reached everyone, so nobody gets more than 8 rounds past the finder,
//! whatever the scheduling or the network (the threads' bound, see the module). Then each
//! sends its count to process 0 and they all end the dataflow and exit. Every child is killed and reaped when
//! process 0 leaves (a drop guard), and a child leaves when process 0's end of its stdin
//! closes. A child that dies mid-run makes process 0 fail with one line and exit code 1.
//! Test hook: a child started with the environment variable `L3P5_TEST_EXIT_AFTER_BLOCKS=K`
//! exits with code 3 after K blocks, as a crashed process would.
//!
//! **Real machines.** Start one copy on each machine by hand with `--process I --hosts FILE`
//! (the same `--hash` and `--max-len` everywhere), where FILE lists one `host:port` a line,
//! process 0 first (blank lines and `#` comments skipped), for example
//!
//! ```text
//! # process 0 prints the answer
//! 10.0.0.1:2101
//! 10.0.0.2:2101
//! ```
//!
//! Each process listens on its own line's address and connects to the lines above it. The
//! connections are plain TCP, neither authenticated nor encrypted: a trusted network only. The
//! course's tests and CI use only 127.0.0.1.
//!
//! Expect: `[cracker-N]` lines from each run's threads, the one-thread and parallel lines with
//! their hashes per second, the speedup (on a 2-core machine it tops out near 2x), then
//! `result: found "mutex" at index 6,3xx,xxx of 12,356,630 with 1 and N threads, speedup S`.
//! Below 1.5x on 2 or more threads and cores, a `note:` line says how busy the rest of the
//! machine was meanwhile (`shared::timing::CpuWatch`).
//! A malformed hash or password, a bad or out-of-range number or an unknown flag is refused
//! before any search, in one line on stderr (`error: <what> (<why>)`), with exit code 2; a
//! hash whose password is not in the keyspace is reported as `not found` after every
//! candidate has been tried, with exit code 1 (so a script can tell "no answer" from an
//! answer), as is a search that failed. A search too short to time prints `not compared
//! (under 1 ms)` instead of a speedup, and so does one that ends within the first million
//! candidates (`not compared (too short a search)`): its time is mostly the threads' start.

use anyhow::Context;
use level_3_advanced::projects::cli::{self, Args, MAX_THREADS, unknown_flag, usage};
use level_3_advanced::projects::cracker::{
    Cluster, DEFAULT_MAX_LEN, Keyspace, MAX_PROCESSES, MAX_SUPPORTED_LEN, Options, Outcome, Target,
    crack, crack_distributed, launch, quiet_timely_network_panics,
};
use level_3_advanced::projects::grouped;
use shared::timing::{CpuWatch, compare, compare_text};
use std::process::ExitCode;
use std::thread;

/// **Test hook**, read only by processes started with `--process I` (I > 0): exit with code 3
/// after hashing this many blocks, as a process that crashes mid-run would. The tests use it
/// to check that the first process then fails in one line instead of hanging.
const EXIT_HOOK: &str = "L3P5_TEST_EXIT_AFTER_BLOCKS";

/// The password hashed and searched for when none is given: about half-way through the
/// five-letter passwords.
const DEFAULT_PASSWORD: &str = "mutex";

/// Below this index, a search is over before it has properly started: the ratio of two such
/// times says nothing about parallel speed.
const MEANINGFUL_INDEX: u64 = 1_000_000;

const USAGE: &str = "\
Usage: l3-p5-hash-cracker [--password WORD | --hash HEX] [--max-len N]
                          [--threads N | --processes N] [--verbose]
       l3-p5-hash-cracker --hash HEX --max-len N --process I --hosts FILE   (one per machine)

Finds a lowercase password (a-z, 1 to max-len letters) from its SHA-256 digest, first with one
thread, then with several, and prints the speedup. For learning only: real password storage
uses slow salted hashes (argon2, bcrypt, scrypt) precisely to defeat this.

Options:
  --password WORD  hash WORD and search for it (default: mutex)
  --hash HEX       search for this SHA-256 digest (64 hex digits)
  --max-len N      longest password tried, 1 to 10 (default: 5); each letter more is 26 times
                   the work: 7 letters take minutes, 8 take hours
  --threads N      threads of the parallel run, 1 to 256 (default: the logical core count)
  --processes N    make the parallel run a timely dataflow over N processes on 127.0.0.1,
                   1 to 16 (this one starts the others and prints the answer)
  --process I      be process I of a run whose addresses are in --hosts FILE (one host:port
                   a line, process 0 first); process 0 prints the answer
  --verbose        on an error, print every cause on its own line
  --help           print this help

Errors are one line on stderr, `error: <what> (<why>)` (with --verbose, every cause).
Exit codes: 0 found; 1 not found in the keyspace, or the search failed; 2 bad usage (an unknown
option, a missing value, a bad or out-of-range number, a malformed hash or password), refused
before any search.";

/// The parsed and checked command line.
#[derive(Debug)]
struct Parsed {
    target: Target,
    /// The password, when it was given rather than its hash.
    known: Option<String>,
    keyspace: Keyspace,
    max_len: usize,
    threads: usize,
    /// `--processes N`: the parallel run is a timely dataflow over N local processes.
    processes: Option<usize>,
    /// `--process I`: this is process I of a distributed run, not the one that starts it.
    role: Option<Role>,
    verbose: bool,
}

/// One process of a distributed run, started by the first (`--peers`) or by hand on each
/// machine (`--hosts FILE`).
#[derive(Debug)]
struct Role {
    cluster: Cluster,
    /// Started by the first process: exit when it goes away (its end of stdin closes).
    child: bool,
}

/// Parses and checks the whole command line, so that every usage error comes before the
/// search; `Ok(None)` means `--help` was asked for.
fn parse_args(mut args: Args) -> anyhow::Result<Option<Parsed>> {
    let mut password = None;
    let mut hash = None;
    let mut max_len = DEFAULT_MAX_LEN;
    let mut threads = None;
    let mut verbose = false;
    let (mut processes, mut process, mut peers, mut hosts) = (None, None, None, None);
    while let Some(flag) = args.next_flag()? {
        match flag.as_str() {
            "--help" | "-h" => return Ok(None),
            "--verbose" => verbose = true,
            "--password" => password = Some(args.text(&flag)?),
            "--hash" => hash = Some(args.text(&flag)?),
            "--max-len" => max_len = args.number(&flag, 1, MAX_SUPPORTED_LEN)?,
            "--threads" => threads = Some(args.number(&flag, 1, MAX_THREADS)?),
            "--processes" => processes = Some(args.number(&flag, 1, MAX_PROCESSES)?),
            "--process" => process = Some(args.number(&flag, 0, MAX_PROCESSES - 1)?),
            "--peers" => peers = Some(args.text(&flag)?),
            "--hosts" => hosts = Some(args.path(&flag)?),
            other => return Err(unknown_flag(other)),
        }
    }
    let keyspace = Keyspace::new(max_len)
        .map_err(|e| usage(format!("bad --max-len {max_len}"), e.to_string()))?;
    let (target, known) = match (password, hash) {
        (Some(_), Some(_)) => {
            return Err(usage("both --password and --hash", "give one of them"));
        }
        (None, Some(hex)) => {
            let target = Target::from_hex(&hex)
                .map_err(|e| usage(format!("bad --hash {hex:?}"), e.to_string()))?;
            (target, None)
        }
        (password, None) => {
            let password = password.unwrap_or_else(|| DEFAULT_PASSWORD.to_owned());
            keyspace
                .check_password(&password)
                .map_err(|e| usage(format!("bad --password {password:?}"), e.to_string()))?;
            (Target::of_password(&password), Some(password))
        }
    };
    let role = match (process, peers, hosts) {
        (None, None, None) => None,
        (Some(index), Some(list), None) => Some(role(index, &list, true)?),
        (Some(index), None, Some(file)) => {
            let text = std::fs::read_to_string(&file).map_err(|e| {
                usage(
                    format!("cannot read --hosts {}", file.display()),
                    e.to_string(),
                )
            })?;
            Some(role(index, &host_lines(&text).join(","), false)?)
        }
        _ => return Err(usage("--process", "give it with one of --peers or --hosts")),
    };
    if role.is_some() && processes.is_some() {
        return Err(usage("both --processes and --process", "give one of them"));
    }
    if threads.is_some() && processes.is_some() {
        return Err(usage("both --threads and --processes", "give one of them"));
    }
    let threads = threads.unwrap_or_else(cli::default_threads);
    Ok(Some(Parsed {
        target,
        known,
        keyspace,
        max_len,
        threads,
        processes,
        role,
        verbose,
    }))
}

/// The addresses of a host file: one `host:port` a line, process 0 first; blank lines and
/// `#` comments are skipped.
fn host_lines(text: &str) -> Vec<&str> {
    text.lines()
        .map(|line| line.split('#').next().unwrap_or("").trim())
        .filter(|line| !line.is_empty())
        .collect()
}

/// Process `index` of the comma-separated `host:port` list.
fn role(index: usize, list: &str, child: bool) -> anyhow::Result<Role> {
    let addresses: Vec<String> = list.split(',').map(|a| a.trim().to_owned()).collect();
    if addresses.len() < 2
        || addresses.len() > MAX_PROCESSES
        || addresses.iter().any(|a| a.is_empty())
    {
        return Err(usage(
            format!("bad host list {list:?}"),
            format!("2 to {MAX_PROCESSES} host:port addresses"),
        ));
    }
    if index >= addresses.len() {
        return Err(usage(
            format!("bad --process {index}"),
            format!("the hosts are numbered 0 to {}", addresses.len() - 1),
        ));
    }
    let exit_after_blocks = match std::env::var(EXIT_HOOK) {
        Ok(text) if index > 0 => Some(cli::number_in(EXIT_HOOK, &text, 0, u64::MAX)?),
        _ => None,
    };
    Ok(Role {
        cluster: Cluster {
            index,
            addresses,
            exit_after_blocks,
        },
        child,
    })
}

/// One run's line: threads, candidates, time, rate.
fn describe(label: &str, outcome: &Outcome) -> String {
    format!(
        "{label:<22} {:>11} candidates in {:>6.0} ms, {:>6.2} M hashes/s",
        grouped(outcome.tried),
        outcome.elapsed.as_secs_f64() * 1e3,
        outcome.hashes_per_second() / 1e6
    )
}

/// Searches once, printing which run it is.
fn run(target: &Target, keyspace: Keyspace, threads: usize) -> anyhow::Result<Outcome> {
    println!("[main] searching with {threads} thread(s)");
    crack(
        target,
        keyspace,
        &Options {
            threads,
            announce: true,
        },
    )
    .with_context(|| format!("the search with {threads} thread(s) failed"))
}

/// The program; `Ok(false)` when the password was not found.
fn crack_and_report(args: &Parsed) -> anyhow::Result<bool> {
    let (target, keyspace, known) = (args.target, args.keyspace, args.known.as_deref());
    println!("[main] target SHA-256: {target}");
    println!(
        "[main] keyspace: a-z, 1 to {} letters, {} candidates",
        args.max_len,
        grouped(keyspace.size())
    );
    if let Some(index) = known.and_then(|p| keyspace.index_of(p)) {
        println!(
            "[main] the password is candidate {} ({:.0}% of the way in)",
            grouped(index),
            index as f64 * 100.0 / keyspace.size() as f64
        );
    }

    let watch = CpuWatch::start();
    let one = run(&target, keyspace, 1)?;
    let many = if let Some(processes) = args.processes {
        println!("[main] searching with {processes} process(es) on 127.0.0.1 (timely dataflow)");
        launch(&target, keyspace, processes)
            .with_context(|| format!("the search with {processes} process(es) failed"))?
    } else if args.threads == 1 {
        one.clone()
    } else {
        run(&target, keyspace, args.threads)?
    };

    // Both runs must agree before any time is printed.
    let found_one = one.found.as_ref().map(|f| (&f.password, f.index));
    let found_many = many.found.as_ref().map(|f| (&f.password, f.index));
    assert_eq!(found_one, found_many, "one thread and many disagree");
    if let Some(found) = &many.found {
        assert_eq!(Target::of_password(&found.password), target);
        assert_eq!(keyspace.index_of(&found.password), Some(found.index));
        if let Some(password) = known {
            assert_eq!(found.password, password);
        }
    } else {
        assert_eq!(one.tried, keyspace.size(), "not found means all were tried");
        assert_eq!(
            many.tried,
            keyspace.size(),
            "not found means all were tried"
        );
    }

    println!("{}", describe("sequential (1 thread)", &one));
    let label = match (args.processes, args.threads) {
        (Some(n), _) => format!("distributed ({n} proc.)"),
        (None, 1) => "parallel (1 thread)".to_string(),
        (None, n) => format!("parallel ({n} threads)"),
    };
    println!("{}", describe(&label, &many));
    // A search over in the first million candidates lasts a few milliseconds, about as long as
    // starting the threads: the ratio of two such times is noise, so it is not printed; nor is
    // one of times under shared::timing::MIN_COMPARABLE.
    let work = many.found.as_ref().map_or(keyspace.size(), |f| f.index);
    let speedup = match compare(one.elapsed, many.elapsed) {
        Some(_) if work >= MEANINGFUL_INDEX => compare_text(one.elapsed, many.elapsed),
        Some(_) => "not compared (too short a search)".to_owned(),
        None => compare_text(one.elapsed, many.elapsed),
    };
    if speedup.starts_with("not compared") {
        println!(
            "{:<22} {speedup}: a search that ends within the first {} candidates takes about as \
             long as starting the threads; try a target further in",
            "speedup",
            grouped(MEANINGFUL_INDEX)
        );
    } else {
        println!(
            "{:<22} {speedup} (times measured in this run; on a 2-core machine the ceiling is \
             near 2x{})",
            "speedup",
            cli::debug_build_note()
        );
        let ratio = compare(one.elapsed, many.elapsed);
        if let Some(note) = cli::shortfall_note(&watch, ratio, args.threads) {
            println!("[main] {note}");
        }
    }
    if many.threads > 1 {
        let (what, name) = match args.processes {
            Some(_) => ("process", "process-"),
            None => ("thread", "cracker-"),
        };
        println!(
            "[main] per {what}: {}",
            many.tried_per_thread
                .iter()
                .enumerate()
                .map(|(t, n)| format!("{name}{t} {}", grouped(*n)))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }

    let Some(found) = many.found else {
        eprintln!(
            "not found: no password of 1 to {} letters a-z has the SHA-256 {target} (all {} \
             candidates tried)",
            args.max_len,
            grouped(keyspace.size())
        );
        return Ok(false);
    };
    println!(
        "result: found {:?} at index {} of {} with 1 and {}, speedup {speedup}",
        found.password,
        grouped(found.index),
        grouped(keyspace.size()),
        match args.processes {
            Some(n) => format!("{n} processes"),
            None => format!("{} threads", args.threads),
        },
    );
    Ok(true)
}

fn main() -> ExitCode {
    let args = match parse_args(Args::from_env()) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(error) => return cli::fail(&error, false),
    };
    if let Some(role) = &args.role {
        return match serve(&args, role) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(error) => cli::fail(&error, args.verbose),
        };
    }
    match crack_and_report(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => cli::fail(&error, args.verbose),
    }
}

/// `--process I`: one process of a distributed run. Process 0 prints the answer; the others
/// only search their share.
fn serve(args: &Parsed, role: &Role) -> anyhow::Result<bool> {
    if role.child {
        // Started by process 0: when it goes away, even killed, its end of our stdin closes
        // and this process leaves too, instead of waiting for it forever.
        thread::spawn(|| {
            let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
            std::process::exit(1);
        });
    }
    quiet_timely_network_panics();
    let index = role.cluster.index;
    let outcome = crack_distributed(&args.target, args.keyspace, &role.cluster, None)
        .with_context(|| format!("process {index} of the distributed search failed"))?;
    if index > 0 {
        return Ok(true);
    }
    println!(
        "{}",
        describe(
            &format!("distributed ({} proc.)", outcome.threads),
            &outcome
        )
    );
    match outcome.found {
        Some(found) => {
            println!(
                "result: found {:?} at index {}",
                found.password,
                grouped(found.index)
            );
            Ok(true)
        }
        None => {
            eprintln!(
                "not found: no password of 1 to {} letters a-z has the SHA-256 {}",
                args.max_len, args.target
            );
            Ok(false)
        }
    }
}
