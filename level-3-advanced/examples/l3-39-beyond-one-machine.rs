//! # Lesson l3-39: one dataflow, run on one worker, two threads, and two processes
//!
//! Replaces Node's `cluster` and `child_process` (copies of a program that pass work and answers
//! as messages) and a message queue between machines. Shows: a job outgrowing one machine needs
//! an engine, not a home-made cluster of sockets. The primes below 1,000,000 are counted ONCE as
//! a timely dataflow (`timely` crate): worker 0 feeds chunks, `exchange` spreads them by chunk
//! number, each worker counts, a second `exchange` brings the counts to worker 0, which adds
//! them up; a probe says when all is done. `main` runs it on one worker, on two worker threads,
//! and on two processes over TCP on 127.0.0.1 (this program started again with a hidden
//! `--process-1` argument; killed and reaped by a drop guard). Each record carries the worker
//! that sent it, so the dataflow itself counts the records that crossed between processes.
//!
//! Run: `cargo run --release --example l3-39-beyond-one-machine`
//!
//! Expect: the three answers, each checked against `count_primes`, the records that crossed,
//! the times as ratios, then `result: 78498 primes below 1000000 on one worker, two threads and
//! two processes; N records crossed between the processes`. On 2 cores nothing beyond about 2x
//! is possible, and a record that goes to another process is serialised and sent through the
//! kernel, which costs more than a channel hop between threads.
//!
//! Test hook: with `L3_39_CHILD_EXITS=1` the second process exits (code 3) at the first chunk
//! it receives, so that `tests/beyond_one_machine.rs` can check the parent fails in one line.

#[path = "support/processes.rs"]
mod processes;

use anyhow::{Context, anyhow};
use processes::{ChildGuard, FIRST_PANIC, cluster, free_address, keep_panics_quiet};
use shared::timing::{ratio, timed};
use shared::workload::{count_primes, is_prime};
use std::cell::Cell;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};
use timely::dataflow::operators::core::Map;
use timely::dataflow::operators::{Exchange, Input, Inspect, Probe};
use timely::dataflow::{InputHandle, ProbeHandle};
use timely::{CommunicationConfig, Config, WorkerConfig};

const LIMIT: u64 = 1_000_000;
const CHUNK: u64 = 1_000;
/// How long one run may take, child process included, before the lesson gives up.
const DEADLINE: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    keep_panics_quiet(); // a lost process makes timely's threads panic: one line says it here
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => lesson(),
        ["--process-1", first, second] => second_process([first.into(), second.into()]),
        _ => Err(anyhow!(
            "unexpected arguments {args:?}; this lesson takes none"
        )),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn lesson() -> anyhow::Result<()> {
    let (expected, sequential) = timed(|| count_primes(0..LIMIT));
    println!("[main] sequential: {expected} primes below {LIMIT} in {sequential:?}");
    let (one, one_time) = run(CommunicationConfig::Thread)?;
    let (two, two_time) = run(CommunicationConfig::Process(2))?;
    let started = Instant::now();
    let (procs, procs_time) = two_processes()?;
    let setup = started.elapsed().saturating_sub(procs_time);
    let all = [one, two, procs];
    assert!(
        all.iter().all(|t| t.primes == expected),
        "a share went missing: {all:?}"
    );
    let crossed = (one.crossed + two.crossed, procs.crossed);
    assert!(
        crossed.0 == 0 && crossed.1 > 0,
        "records crossed: {crossed:?}"
    );
    println!(
        "[main] primes: one worker {}, two threads {}, two processes {}; {} records crossed",
        one.primes, two.primes, procs.primes, procs.crossed
    );
    println!(
        "[main] speedup over one worker: two threads {:.2}x, two processes {:.2}x (plus {setup:?} \
         to start and connect); two processes took {:.2}x the time of two threads: a process hop \
         costs more than a channel hop. On 2 cores nothing beyond about 2x is possible",
        ratio(one_time, two_time),
        ratio(one_time, procs_time),
        ratio(procs_time, two_time),
    );
    println!(
        "result: {expected} primes below {LIMIT} on one worker, two threads and two processes; \
         {} records crossed between the processes",
        procs.crossed
    );
    Ok(())
}

/// What one run found: the primes (at worker 0) and the records that crossed processes.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    primes: u64,
    crossed: u64,
}

/// Runs the dataflow on this process's share of the workers; returns their summed tally and the
/// time worker 0 took (connections are made before the dataflow starts, so they are not in it).
fn run(communication: CommunicationConfig) -> anyhow::Result<(Tally, Duration)> {
    let threads = match communication {
        CommunicationConfig::Process(n) => n,
        CommunicationConfig::Cluster { threads, .. } => threads,
        _ => 1,
    };
    let worker = WorkerConfig::default();
    let config = Config {
        communication,
        worker,
    };
    let guards = timely::execute(config, move |worker| timed(|| dataflow(worker, threads)));
    let (mut sum, mut time) = (Tally::default(), Duration::ZERO);
    for result in guards.map_err(anyhow::Error::msg)?.join() {
        let why = FIRST_PANIC.get().map_or("?", String::as_str);
        let (tally, took) = result.map_err(|_| anyhow!("a worker panicked: {why}"))?;
        (sum.primes, sum.crossed) = (sum.primes + tally.primes, sum.crossed + tally.crossed);
        time = time.max(took);
    }
    Ok((sum, time))
}

/// The dataflow, written once. Records are `(sending worker, chunk start)`, then
/// `(sending worker, primes in that chunk)`: both serialisable, as crossing a process needs.
fn dataflow(worker: &mut timely::worker::Worker, threads: usize) -> Tally {
    let (me, primes, crossed) = (worker.index(), Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
    let process = move |w: usize| w / threads; // timely numbers a process's workers together
    let (mut input, probe) = (InputHandle::new(), ProbeHandle::new());
    let exits = std::env::var_os("L3_39_CHILD_EXITS").is_some() && process(me) == 1;
    let (p, c, c2) = (Rc::clone(&primes), Rc::clone(&crossed), Rc::clone(&crossed));
    worker.dataflow::<u64, _, _>(|scope| {
        scope
            .input_from(&mut input)
            .container::<Vec<(usize, u64)>>()
            .exchange(|&(_, start)| start / CHUNK)
            .map(move |(from, start)| {
                if exits {
                    std::process::exit(3); // the test hook: this process dies mid-run
                }
                c2.set(c2.get() + u64::from(process(from) != process(me)));
                let count = (start..start + CHUNK).filter(|&n| is_prime(n)).count();
                (me, count as u64)
            })
            .container::<Vec<(usize, u64)>>()
            .exchange(|_| 0) // every count goes to worker 0
            .inspect(move |&(from, count)| {
                p.set(p.get() + count);
                c.set(c.get() + u64::from(process(from) != process(me)));
            })
            .probe_with(&probe);
    });
    if me == 0 {
        (0..LIMIT)
            .step_by(CHUNK as usize)
            .for_each(|start| input.send((me, start)));
    }
    drop(input); // no more input: the probe is done once every record is through
    while !probe.done() {
        worker.step();
    }
    let (primes, crossed) = (primes.get(), crossed.get());
    Tally { primes, crossed }
}

/// Process 0 runs here, on a thread, while process 1 runs as a child; both must answer in time.
fn two_processes() -> anyhow::Result<(Tally, Duration)> {
    let addresses = [free_address()?, free_address()?];
    let (tx, ours) = crossbeam_channel::bounded(1);
    let config = cluster(0, &addresses);
    std::thread::spawn(move || tx.send(run(config)));
    let mut child = ChildGuard::spawn(&addresses)?;
    let ((tally, time), answer) = child.answers(&ours, DEADLINE)?;
    let theirs: u64 = answer.parse().context("the second process's answer")?;
    let crossed = tally.crossed + theirs;
    Ok((Tally { crossed, ..tally }, time))
}

/// In the child: process 1 of 2. Its answer on stdout is how many records crossed into it.
fn second_process(addresses: [String; 2]) -> anyhow::Result<()> {
    processes::exit_when_parent_exits();
    let (tally, _) = run(cluster(1, &addresses))?;
    println!("answer: {}", tally.crossed);
    Ok(())
}
