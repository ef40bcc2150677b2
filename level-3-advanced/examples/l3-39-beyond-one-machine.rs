//! # Lesson l3-39: one dataflow, run on one worker, two threads, and two processes
//!
//! Replaces Node's `cluster` and `child_process` (copies of a program passing work and answers
//! as messages) and a message queue between machines: a job that outgrows one machine needs an
//! engine, not a home-made cluster of sockets. Shows: the primes below 2,000,000 counted ONCE as
//! a timely dataflow: worker 0 feeds chunks, `exchange` spreads them by chunk number, each
//! worker counts, a second `exchange` brings the counts to worker 0 to add up, and a probe says
//! when all is through. `main` runs it on one worker, two worker threads, and two processes over
//! TCP on 127.0.0.1 (this program again, with a hidden `--process-1` argument, killed and reaped
//! by a drop guard). Records carry their sender, so the dataflow counts those that crossed
//! between the processes. A lockstep run (200 chunks, one round trip at a time) times hops.
//!
//! Run: `cargo run --release --example l3-39-beyond-one-machine`
//!
//! Expect: timely's `awaiting connections (at 0/1)` (process 0 polls once a second), the checked
//! answers, the records that crossed, the times as ratios of one run (2 cores: at most about 2x),
//! then `result: 148933 primes below 2000000 on one worker, two threads and two processes; N
//! records crossed between the processes`.
//!
//! Test hook: with `L3_39_CHILD_EXITS=1` the second process exits (code 3) at the first chunk it
//! gets, so that `tests/beyond_one_machine.rs` can check the parent fails in one line.

#[path = "support/processes.rs"]
mod processes;

use anyhow::anyhow;
use processes::{ChildGuard, FIRST_PANIC, cluster, free_address, keep_panics_quiet};
use shared::timing::{compare_text, timed};
use shared::workload::{count_primes, is_prime};
use std::cell::Cell;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};
use timely::dataflow::operators::core::Map;
use timely::dataflow::operators::{Exchange, Input, Inspect, Probe};
use timely::dataflow::{InputHandle, ProbeHandle};
use timely::worker::Worker;
use timely::{CommunicationConfig, Config};

const LIMIT: u64 = 2_000_000;
const CHUNK: u64 = 1_000;
/// The latency run: this many chunks, each sent only once the one before has come back.
const ROUND_TRIPS: u64 = 200;
/// How long one run may take, child process included, before the lesson gives up.
const DEADLINE: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    keep_panics_quiet(); // a lost process makes timely's threads panic: one line says it here
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => lesson(),
        ["--process-1", first, second] => second_process([first.into(), second.into()]),
        _ => {
            eprintln!("error: unexpected arguments {args:?}; this lesson takes none");
            return ExitCode::from(2); // bad usage (guide 3)
        }
    };
    if let Err(error) = outcome {
        eprintln!("error: {error:#}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn lesson() -> anyhow::Result<()> {
    let expected = [count_primes(0..ROUND_TRIPS * CHUNK), count_primes(0..LIMIT)];
    let one = run(CommunicationConfig::Thread)?;
    let two = run(CommunicationConfig::Process(2))?;
    let started = Instant::now();
    let procs = two_processes()?;
    let setup = started.elapsed().saturating_sub(procs[0].1 + procs[1].1);
    let ways = ["one worker", "two threads", "two processes"];
    for (way, runs) in ways.into_iter().zip([one, two, procs]) {
        let primes = runs.map(|(tally, _)| tally.primes);
        assert_eq!(primes, expected, "{way}: a share went missing");
    }
    let local: u64 = [one, two].as_flattened().iter().map(|r| r.0.crossed).sum();
    let crossed = procs.map(|(tally, _)| tally.crossed);
    let boundary = local == 0 && crossed.iter().all(|&c| c > 0);
    assert!(boundary, "crossed: {local} in one, {crossed:?} in two");
    let (primes, n) = (expected[1], crossed[1]);
    let [two_speed, procs_speed] = [two, procs].map(|r| compare_text(one[1].1, r[1].1));
    println!(
        "[main] {primes} primes below {LIMIT} on each of the three ways; {n} records crossed \
         between the processes\n[main] all chunks at once: two threads {two_speed}, two processes \
         {procs_speed} the speed of one worker (on 2 cores nothing beyond about 2x is possible)"
    );
    println!(
        "[main] {ROUND_TRIPS} chunks one round trip at a time: two processes took {} the time \
         of two threads (a process hop is serialised and goes through the kernel; a channel hop \
         is a move in memory); starting and connecting the second process took {setup:.1?} more",
        compare_text(procs[0].1, two[0].1)
    );
    println!(
        "result: {primes} primes below {LIMIT} on one worker, two threads and two processes; {n} \
         records crossed between the processes"
    );
    Ok(())
}

/// What one run found: the primes (at worker 0) and the records that crossed processes.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    primes: u64,
    crossed: u64,
}

type Run = [(Tally, Duration); 2]; // the lockstep run's tally and time, then the free run's

/// Runs the dataflow on this process's workers in lockstep (latency), then freely (throughput):
/// tallies summed, the longest worker time (connecting comes before, so is not in it).
fn run(communication: CommunicationConfig) -> anyhow::Result<Run> {
    let threads = processes::threads(&communication);
    let ends = [ROUND_TRIPS * CHUNK, LIMIT];
    let mut config = Config::thread();
    config.communication = communication;
    let guards = timely::execute(config, move |w| {
        [0, 1].map(|i| timed(|| dataflow(w, threads, ends[i], i == 0)))
    });
    let mut sum = [(Tally::default(), Duration::ZERO); 2];
    for result in guards.map_err(anyhow::Error::msg)?.join() {
        let why = FIRST_PANIC.get().map_or("?", String::as_str);
        let runs = result.map_err(|_| anyhow!("a worker panicked: {why}"))?;
        for ((sum, time), (tally, took)) in sum.iter_mut().zip(runs) {
            (sum.primes, sum.crossed) = (sum.primes + tally.primes, sum.crossed + tally.crossed);
            *time = (*time).max(took);
        }
    }
    Ok(sum)
}

/// The dataflow, written once. Records are `(sending worker, chunk start)`, then
/// `(sending worker, primes in that chunk)`: both serialisable, as crossing a process needs.
fn dataflow(worker: &mut Worker, threads: usize, end: u64, lockstep: bool) -> Tally {
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
    for (round, start) in (0..end).step_by(CHUNK as usize).enumerate() {
        if me == 0 {
            input.send((me, start));
        }
        if lockstep {
            input.advance_to(round as u64 + 1);
            worker.step_while(|| probe.less_than(input.time()));
        }
    }
    drop(input); // no more input: the probe is done once every record is through
    worker.step_while(|| !probe.done());
    let (primes, crossed) = (primes.get(), crossed.get());
    Tally { primes, crossed }
}

/// Process 0 runs here, on a thread, while process 1 runs as a child; both must answer in time.
fn two_processes() -> anyhow::Result<Run> {
    let addresses = [free_address()?, free_address()?];
    let (tx, ours) = crossbeam_channel::bounded(1);
    let config = cluster(0, &addresses);
    std::thread::spawn(move || tx.send(run(config)));
    let mut child = ChildGuard::spawn(&addresses)?;
    let (mut runs, answer) = child.answers(&ours, DEADLINE)?;
    let theirs: Vec<u64> = answer
        .split(' ')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    anyhow::ensure!(theirs.len() == 2, "the second process answered {answer:?}");
    runs[0].0.crossed += theirs[0];
    runs[1].0.crossed += theirs[1];
    Ok(runs)
}

/// In the child: process 1 of 2. Its answer on stdout: the records that crossed into it.
fn second_process(addresses: [String; 2]) -> anyhow::Result<()> {
    processes::exit_when_parent_exits();
    let [(lockstep, _), (free, _)] = run(cluster(1, &addresses))?;
    println!("answer: {} {}", lockstep.crossed, free.crossed);
    Ok(())
}
