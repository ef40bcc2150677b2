//! # Lesson l2-09: progress reporting
//!
//! Replaces Node's progress messages (`parentPort.postMessage({ type: 'progress', percent })`,
//! with the main thread printing them). The Node course's practical example never reached
//! 100%: its last progress report said about 90%. Here every job reports each block it
//! finishes, the last one included, so a finished job reaches exactly 100%, and the example
//! asserts it.
//!
//! Shows: four workers counting primes, each over its own range, cut into blocks. They report
//! over one channel with an `enum` (`Started`, `Progress { done, total }`, `Finished`, `Failed`);
//! the **main thread alone** owns the terminal and draws the bars with
//! `indicatif::MultiProgress`: one bar per worker and one for the total. The workers never
//! print and never touch a bar: each holds only a `Sender<Report>`, and every bar update goes
//! through one `Bars` value that checks it runs on the main thread and counts its updates. One
//! job is built with a range that passes the input limit, so its worker fails midway: its bar
//! is abandoned with the error, and the total bar drops the blocks that will never run.
//!
//! indicatif draws on stderr, and only when stderr is a terminal: under CI, or with
//! `2>file`, the bars are hidden (and cost nothing). The example then still prints a plain
//! summary line per worker on stdout, so its outcome is visible either way.
//!
//! Run: `cargo run --release --example l2-09-progress-reporting` (in a terminal, to see bars)
//!
//! Expect: four bars and a total bar filling up (in a terminal); three reach 100% and one stops
//! with `failed: the block 10000000..10050000 reaches past the limit of 10000000`; then one
//! summary line per worker and `result: 3 jobs finished at 100%, 1 failed after 4 of 8 blocks;
//! 602489 primes counted, checked; 193 bar updates, all on the main thread`.

use anyhow::{Context, anyhow, bail};
use crossbeam_channel::Sender;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use shared::workload::count_primes;
use std::ops::Range;
use std::thread::{self, ThreadId};
use thiserror::Error;

/// How many numbers one block holds: one block, one progress report.
const BLOCK: u64 = 50_000;
/// Trial division is too slow for a demo above this; a job that reaches past it fails.
const MAX_NUMBER: u64 = 10_000_000;

/// The jobs: a range of numbers each. The last one runs past `MAX_NUMBER` (a mistake in the
/// input), so its worker fails midway. A real program would check every job before starting
/// it; this one checks block by block, to show a failure in the middle of a job.
const JOBS: [Range<u64>; 4] = [
    0..4_000_000,
    4_000_000..7_000_000,
    7_000_000..9_000_000,
    9_800_000..10_200_000,
];

/// Why a job could not be finished.
#[derive(Debug, Clone, PartialEq, Error)]
enum JobError {
    #[error("the block {low}..{high} reaches past the limit of {MAX_NUMBER}")]
    TooLarge { low: u64, high: u64 },
}

/// What a worker tells the main thread: Node's `{ type: 'progress', ... }` messages, as an
/// `enum` the compiler checks.
#[derive(Debug, Clone, PartialEq)]
enum Event {
    /// The job has `total` blocks.
    Started { total: u64 },
    /// `done` of `total` blocks are counted; sent after every block, the last one included.
    Progress { done: u64, total: u64 },
    /// Every block is counted: the job's answer.
    Finished { primes: u64 },
    /// The job stopped at a block it could not do; the blocks before it were counted.
    Failed { done: u64, error: JobError },
}

#[derive(Debug)]
struct Report {
    worker: usize,
    event: Event,
}

/// A worker's whole job. It owns a `Sender` and its range: nothing else, and in particular
/// nothing that can draw. Its last message is `Finished` or `Failed`.
fn count_job(worker: usize, range: Range<u64>, reports: &Sender<Report>) {
    // The main thread may have stopped listening (it failed); then there is nobody to tell.
    let send = |event| {
        let _ = reports.send(Report { worker, event });
    };
    let total = (range.end - range.start).div_ceil(BLOCK);
    send(Event::Started { total });
    let mut primes = 0;
    for (done, low) in (range.start..range.end).step_by(BLOCK as usize).enumerate() {
        let high = (low + BLOCK).min(range.end);
        if high > MAX_NUMBER {
            let error = JobError::TooLarge { low, high };
            return send(Event::Failed {
                done: done as u64,
                error,
            });
        }
        primes += count_primes(low..high);
        send(Event::Progress {
            done: done as u64 + 1,
            total,
        });
    }
    send(Event::Finished { primes });
}

/// The bars, and the only way to change them: every method checks that it runs on the thread
/// that made the bars (the main thread), and counts the updates.
#[derive(Debug)]
struct Bars {
    multi: MultiProgress,
    workers: Vec<ProgressBar>,
    total: ProgressBar,
    owner: ThreadId,
    updates: usize,
}

impl Bars {
    fn new(jobs: &[Range<u64>]) -> anyhow::Result<Self> {
        let style = ProgressStyle::with_template(
            "{prefix:>9} [{bar:40.cyan/blue}] {pos:>3}/{len:3} blocks {msg}",
        )
        .context("bad bar template")?
        .progress_chars("=> ");
        // Draws on stderr at most 20 times a second; hidden if stderr is not a terminal.
        let multi = MultiProgress::new();
        let workers = (0..jobs.len())
            .map(|w| {
                multi.add(
                    ProgressBar::new(0)
                        .with_style(style.clone())
                        .with_prefix(format!("worker-{w}"))
                        .with_message("waiting"),
                )
            })
            .collect();
        let blocks: u64 = jobs
            .iter()
            .map(|job| (job.end - job.start).div_ceil(BLOCK))
            .sum();
        let total = multi.add(
            ProgressBar::new(blocks)
                .with_style(style)
                .with_prefix("total"),
        );
        Ok(Self {
            multi,
            workers,
            total,
            owner: thread::current().id(),
            updates: 0,
        })
    }

    fn check_thread(&mut self) {
        assert_eq!(
            thread::current().id(),
            self.owner,
            "only the main thread draws"
        );
        self.updates += 1;
    }

    /// Applies one report to the bars.
    fn apply(&mut self, report: &Report) -> anyhow::Result<()> {
        self.check_thread();
        let bar = self
            .workers
            .get(report.worker)
            .with_context(|| format!("a report from an unknown worker {}", report.worker))?;
        match &report.event {
            Event::Started { total } => {
                bar.set_length(*total);
                bar.set_message("counting");
            }
            Event::Progress { done, .. } => {
                self.total.inc(done - bar.position());
                bar.set_position(*done);
            }
            Event::Finished { primes } => {
                bar.finish_with_message(format!("done: {primes} primes"));
            }
            Event::Failed { done, error } => {
                // Those blocks will never run: the total's goal shrinks by them, so that the
                // total bar still ends at 100% of the work that could be done.
                let never = bar.length().unwrap_or(0).saturating_sub(*done);
                self.total.dec_length(never);
                bar.abandon_with_message(format!("failed: {error}"));
            }
        }
        Ok(())
    }

    fn finish(&mut self) {
        self.check_thread();
        self.total.finish_with_message("all jobs settled");
    }
}

/// What the main thread learned about one job.
#[derive(Debug, Clone, Default, PartialEq)]
struct Outcome {
    total: u64,
    last_progress: Option<(u64, u64)>,
    result: Option<Result<u64, JobError>>,
}

fn main() -> anyhow::Result<()> {
    let mut bars = Bars::new(&JOBS)?;
    if bars.multi.is_hidden() {
        println!("[main] stderr is not a terminal (CI, a pipe, a file): indicatif hides the bars;");
        println!("[main] the plain summary below is printed either way");
    }

    let (tx, rx) = crossbeam_channel::unbounded::<Report>();
    let workers = JOBS
        .iter()
        .cloned()
        .enumerate()
        .map(|(w, range)| {
            let tx = tx.clone();
            thread::Builder::new()
                .name(format!("worker-{w}"))
                .spawn(move || count_job(w, range, &tx))
                .with_context(|| format!("could not spawn worker-{w}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    // Keep no sender here: the loop below ends when the last worker drops its own.
    drop(tx);

    let mut outcomes = vec![Outcome::default(); JOBS.len()];
    // The main thread's loop: the only place that draws. It ends when every worker has ended.
    for report in &rx {
        bars.apply(&report)?;
        let outcome = &mut outcomes[report.worker];
        match report.event {
            Event::Started { total } => outcome.total = total,
            Event::Progress { done, total } => outcome.last_progress = Some((done, total)),
            Event::Finished { primes } => outcome.result = Some(Ok(primes)),
            Event::Failed { error, .. } => outcome.result = Some(Err(error)),
        }
    }
    bars.finish();
    for worker in workers {
        worker.join().map_err(|_| anyhow!("a worker panicked"))?;
    }

    // The plain summary, on stdout, bars or not.
    let mut counted = 0;
    let mut finished = 0;
    let mut failed = Vec::new();
    for (w, (outcome, range)) in outcomes.iter().zip(&JOBS).enumerate() {
        let (done, total) = outcome.last_progress.unwrap_or((0, outcome.total));
        let percent = done * 100 / total.max(1);
        match &outcome.result {
            Some(Ok(primes)) => {
                println!(
                    "[main] worker-{w}: {done}/{total} blocks ({percent}%), {primes} primes in {range:?}"
                );
                counted += primes;
                finished += 1;
            }
            Some(Err(error)) => {
                println!("[main] worker-{w}: {done}/{total} blocks ({percent}%), failed: {error}");
                failed.push((w, done, total));
            }
            None => bail!("worker-{w} ended without a final report"),
        }
    }
    println!(
        "[main] {} bar updates, every one made on the main thread",
        bars.updates
    );

    // Check every answer, and that every finished job reached 100%.
    let mut expected_counted = 0;
    for ((w, outcome), range) in outcomes.iter().enumerate().zip(&JOBS) {
        let bar = &bars.workers[w];
        if range.end <= MAX_NUMBER {
            let expected = count_primes(range.clone());
            expected_counted += expected;
            assert_eq!(outcome.result, Some(Ok(expected)), "worker-{w}");
            assert_eq!(
                outcome.last_progress,
                Some((outcome.total, outcome.total)),
                "worker-{w} reached 100%"
            );
            assert_eq!(
                bar.length(),
                Some(bar.position()),
                "worker-{w}'s bar is full"
            );
        } else {
            assert!(
                matches!(outcome.result, Some(Err(JobError::TooLarge { .. }))),
                "worker-{w}: {:?}",
                outcome.result
            );
            assert!(bar.position() < bar.length().unwrap_or(0));
        }
    }
    assert_eq!(counted, expected_counted);
    assert_eq!(finished, 3);
    assert_eq!(
        failed,
        [(3, 4, 8)],
        "worker-3 fails at the block that reaches past 10,000,000"
    );
    assert_eq!(
        bars.total.length(),
        Some(bars.total.position()),
        "the total bar is full"
    );
    // One update per report (`Started`, one `Progress` per block done, the final report),
    // plus the total bar's finish.
    let reports: u64 = outcomes
        .iter()
        .map(|o| 2 + o.last_progress.map_or(0, |(done, _)| done))
        .sum();
    assert_eq!(bars.updates as u64, reports + 1);
    println!(
        "result: {finished} jobs finished at 100%, 1 failed after {} of {} blocks; {counted} primes \
         counted, checked; {} bar updates, all on the main thread",
        failed[0].1, failed[0].2, bars.updates
    );
    Ok(())
}
