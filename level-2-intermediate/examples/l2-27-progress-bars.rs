//! # Lesson l2-27: progress bars, drawn by the main thread alone
//!
//! Replaces the Node course's main thread printing each worker's progress messages, with
//! bars: `indicatif::MultiProgress`, one bar per worker and one for the total. The rule that
//! keeps the screen whole is lesson l2-26's: the workers only send reports; the **main thread
//! alone** owns the terminal and every bar (the `Bars` value checks it). A job that fails midway
//! has its bar abandoned, and the total's goal drops the blocks that will never run.
//!
//! `{wide_bar}` sizes each bar to the terminal, and no message is drawn beside it, so no line
//! wraps (a wrapped line breaks the redrawing); each job's outcome, a long error included,
//! follows as a plain line. indicatif draws on stderr only when it is a terminal: under CI, or
//! with `2>file`, the bars are hidden (and cost nothing); the outcome lines and checks remain.
//!
//! Run: `cargo run --release --example l2-27-progress-bars` (in a terminal, to see the bars)
//!
//! Expect: five bars as wide as the terminal (in one), three reaching 100%, one stopping at 4/8;
//! a line per job, one `failed: the block 10000000..10050000 reaches past the limit of
//! 10000000`; then `result: 3 bars full, 1 abandoned after 4 of 8 blocks, the total bar full;
//! 193 bar updates, all on the main thread`.

use anyhow::{Context, anyhow};
use crossbeam_channel::Sender;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use shared::workload::count_primes;
use std::ops::Range;
use std::thread::{self, ThreadId};

/// One block, one progress report. A job that reaches past `MAX_NUMBER` fails there.
const BLOCK: u64 = 50_000;
const MAX_NUMBER: u64 = 10_000_000;
/// The jobs. The last one runs past `MAX_NUMBER` (a mistake in the input); checked block by
/// block, to show a failure in the middle of a job.
const JOBS: [Range<u64>; 4] = [
    0..4_000_000,
    4_000_000..7_000_000,
    7_000_000..9_000_000,
    9_800_000..10_200_000,
];

fn main() -> anyhow::Result<()> {
    let mut bars = Bars::new(&JOBS)?;
    let (tx, rx) = crossbeam_channel::unbounded::<(usize, Event)>();
    let workers = (0..JOBS.len())
        .map(|w| {
            let tx = tx.clone();
            thread::Builder::new()
                .name(format!("worker-{w}"))
                .spawn(move || count_job(w, JOBS[w].clone(), &tx))
                .with_context(|| format!("could not spawn worker-{w}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    drop(tx); // keep no sender here: the loop below ends when the last worker drops its own

    // The only place that draws. It ends when every worker has ended.
    let mut reports = 0;
    for (w, event) in &rx {
        bars.apply(w, &event)?;
        reports += 1;
    }
    bars.finish();
    for worker in workers {
        worker.join().map_err(|_| anyhow!("a worker panicked"))?;
    }

    let state: Vec<(u64, u64)> = bars
        .workers
        .iter()
        .map(|b| (b.position(), b.length().unwrap_or(0)))
        .collect();
    println!("[main] each bar's (position, length): {state:?}");
    let full = state.iter().filter(|(done, total)| done == total).count();
    assert_eq!(full, 3, "the three jobs within the limit have full bars");
    assert_eq!(state[3], (4, 8), "worker-3 stopped past the limit");
    // The total bar is full: its goal shrank by the blocks that never ran.
    assert_eq!(bars.total.length(), Some(bars.total.position()));
    // One update per report, plus the total bar's finish.
    assert_eq!(bars.updates, reports + 1);
    println!(
        "result: {full} bars full, 1 abandoned after {} of {} blocks, the total bar full; {} bar \
         updates, all on the main thread",
        state[3].0, state[3].1, bars.updates
    );
    Ok(())
}

/// What a worker tells the main thread (lesson l2-26's reports).
#[derive(Debug, Clone, PartialEq)]
enum Event {
    Started { total: u64 },
    Progress { done: u64, total: u64 },
    Finished { primes: u64 },
    Failed { done: u64, error: String },
}

/// A worker's whole job (lesson l2-26's). It owns a `Sender` and its range: nothing that can draw.
fn count_job(worker: usize, range: Range<u64>, reports: &Sender<(usize, Event)>) {
    // The main thread may have stopped listening (it failed); then there is nobody to tell.
    let send = |event| drop(reports.send((worker, event)));
    let total = (range.end - range.start).div_ceil(BLOCK);
    send(Event::Started { total });
    let mut primes = 0;
    for (done, low) in (1..).zip((range.start..range.end).step_by(BLOCK as usize)) {
        let high = (low + BLOCK).min(range.end);
        if high > MAX_NUMBER {
            let error = format!("the block {low}..{high} reaches past the limit of {MAX_NUMBER}");
            let done = done - 1; // the blocks before this one were counted
            return send(Event::Failed { done, error });
        }
        primes += count_primes(low..high);
        send(Event::Progress { done, total });
    }
    send(Event::Finished { primes });
}

/// The bars, and the only way to change them: every method checks that it runs on the thread
/// that made the bars (the main thread), and counts the updates.
#[derive(Debug)]
struct Bars {
    workers: Vec<ProgressBar>,
    total: ProgressBar,
    owner: ThreadId,
    updates: usize,
}

impl Bars {
    fn new(jobs: &[Range<u64>]) -> anyhow::Result<Self> {
        let style = ProgressStyle::with_template(
            "{prefix:>9} [{wide_bar:.cyan/blue}] {pos:>3}/{len:3}", // no {msg}: see `finish`
        )
        .context("bad bar template")?
        .progress_chars("=> ");
        // Draws on stderr at most 20 times a second; hidden if stderr is not a terminal.
        let multi = MultiProgress::new();
        if multi.is_hidden() {
            println!("[main] stderr is not a terminal: indicatif hides the bars");
        }
        let bar = |len, prefix: String| {
            multi.add(
                ProgressBar::new(len)
                    .with_style(style.clone())
                    .with_prefix(prefix),
            )
        };
        let workers = (0..jobs.len())
            .map(|w| bar(0, format!("worker-{w}")))
            .collect();
        let blocks = jobs
            .iter()
            .map(|job| (job.end - job.start).div_ceil(BLOCK))
            .sum();
        let total = bar(blocks, "total".to_owned());
        Ok(Self {
            workers,
            total,
            owner: thread::current().id(),
            updates: 0,
        })
    }

    fn check_thread(&mut self) {
        let here = thread::current().id();
        assert_eq!(here, self.owner, "only the main thread draws");
        self.updates += 1;
    }

    fn apply(&mut self, worker: usize, event: &Event) -> anyhow::Result<()> {
        self.check_thread();
        let bar = self
            .workers
            .get(worker)
            .with_context(|| format!("an unknown worker {worker}"))?;
        match event {
            Event::Started { total } => bar.set_length(*total),
            Event::Progress { done, .. } => {
                self.total.inc(done - bar.position());
                bar.set_position(*done);
            }
            Event::Finished { primes } => bar.finish_with_message(format!("done, {primes} primes")),
            Event::Failed { done, error } => {
                // Those blocks will never run: the total's goal drops them, so it still fills.
                self.total
                    .dec_length(bar.length().unwrap_or(0).saturating_sub(*done));
                bar.abandon_with_message(format!("failed: {error}"));
            }
        }
        Ok(())
    }

    /// Finishes the total bar, then prints each job's outcome (its bar's message) as a line.
    fn finish(&mut self) {
        self.check_thread();
        self.total.finish();
        if !self.total.is_hidden() {
            eprintln!(); // below the bars' last line, which indicatif leaves open
        }
        for (w, bar) in self.workers.iter().enumerate() {
            println!("[main] worker-{w}: {}", bar.message());
        }
    }
}
