//! # Lesson l1-15: a practical worker, a dataset with progress and statistics
//!
//! Replaces Node's practical example: 50,000 records sent to a worker through `workerData`, a
//! filter (category A, value at least 500), `postMessage` progress reports, and a final
//! statistics message. Two bugs of the Node version are fixed here: its progress stopped at
//! about 90% (never 100%), and its per-category summary was computed *after* the filter, so
//! only category A ever appeared.
//!
//! Shows: progress messages, then a result, from one worker: the worker posts
//! `Progress(10)` ... `Progress(100)` then `Done(stats)` (an `enum` protocol), and the main
//! thread draws a progress bar from them. The dataset is *moved* in (no copy) and handed back
//! through `join`, so the main thread can check every statistic against a sequential pass.
//!
//! Run: `cargo run --example l1-15-practical-dataset`
//!
//! Expect: ten progress bars from 10% to 100%, a table of all three categories, then
//! `result: 8340 of 50000 records are A with value >= 500 (sum 6248695, mean 749.24), checked`.

use anyhow::{Context, anyhow};
use std::collections::BTreeMap;
use std::thread;

const LEN: usize = 50_000; // records, as in the Node example
/// The filter: category A with a value of at least this.
const MIN_VALUE: u32 = 500;

fn main() -> anyhow::Result<()> {
    let records = generate(LEN);
    println!("[main] generated {LEN} records, moving them into the worker");

    let (sender, receiver) = crossbeam_channel::unbounded();
    let worker = thread::Builder::new()
        .name("dataset-worker".to_owned())
        .spawn(move || {
            // `records` now belongs to this thread: Node's `workerData`, without the copy.
            // A failed send means nobody listens any more: the worker just finishes.
            let stats = analyse(&records, |percent| {
                let _ = sender.send(Message::Progress(percent));
            });
            let _ = sender.send(Message::Done(stats));
            records // hand the dataset back: ownership returns through `join`
        })
        .context("could not spawn the worker")?;

    // The loop ends when the worker finishes and its `sender` is dropped.
    let mut reports = Vec::new();
    let mut stats = None;
    for message in &receiver {
        match message {
            Message::Progress(percent) => {
                println!("[main] {}", progress_bar(percent));
                reports.push(percent);
            }
            Message::Done(done) => stats = Some(done),
        }
    }
    let records = worker.join().map_err(|_| anyhow!("the worker panicked"))?;
    let stats = stats.context("the worker ended without sending its statistics")?;
    print_categories(&stats);

    // Checked against a sequential pass over all records, every category included.
    assert_eq!(stats, analyse_sequentially(&records));
    assert_eq!(reports, (1..=10).map(|step| step * 10).collect::<Vec<u8>>());
    let filtered = stats.filtered;
    // The dataset is fixed by its seed, so its answer is too (the header quotes it).
    assert_eq!((filtered.count, filtered.total), (8_340, 6_248_695));
    let mean = filtered.mean();
    println!(
        "result: {} of {LEN} records are A with value >= {MIN_VALUE} (sum {}, mean {mean:.2}), checked",
        filtered.count, filtered.total
    );
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Category {
    A,
    B,
    C,
}

#[derive(Debug, Clone, Copy)]
struct Record {
    value: u32,
    category: Category,
}

/// A count and a sum, of the filtered records or of one category.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct Totals {
    count: usize,
    total: u64,
}

impl Totals {
    fn add(&mut self, value: u32) {
        self.count += 1;
        self.total += u64::from(value);
    }

    fn mean(&self) -> f64 {
        self.total as f64 / self.count.max(1) as f64
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
struct Stats {
    filtered: Totals,
    /// Every category, counted over the *whole* dataset, not just the filtered records.
    by_category: BTreeMap<Category, Totals>,
}

/// Node's `{ type: 'progress' }` and `{ type: 'complete' }` messages, as an `enum`.
#[derive(Debug)]
enum Message {
    Progress(u8), // percent of the records processed so far: 10, 20, ..., 100

    Done(Stats),
}

/// A fixed dataset from xorshift64 (deterministic, not good randomness): the same records on
/// every run and every machine.
fn generate(len: usize) -> Vec<Record> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..len)
        .map(|_| {
            let value = u32::try_from(next() % 1001).expect("0..=1000 fits in a u32");
            let category = [Category::A, Category::B, Category::C][(next() % 3) as usize];
            Record { value, category }
        })
        .collect()
}

/// The worker's job: one pass over the records, calling `progress` at every 10% step up to
/// and including 100%.
fn analyse(records: &[Record], mut progress: impl FnMut(u8)) -> Stats {
    let mut stats = Stats::default();
    let mut next_report = 10;
    for (index, record) in records.iter().enumerate() {
        let category = stats.by_category.entry(record.category).or_default();
        category.add(record.value);
        if passes_filter(record) {
            stats.filtered.add(record.value);
        }
        // Report every 10% step reached, including the last: after the final record
        // `(index + 1) * 100 / len` is exactly 100.
        let percent = (index + 1) * 100 / records.len();
        while next_report <= percent {
            progress(u8::try_from(next_report).expect("at most 100"));
            next_report += 10;
        }
    }
    stats
}

fn passes_filter(record: &Record) -> bool {
    record.category == Category::A && record.value >= MIN_VALUE
}

fn progress_bar(percent: u8) -> String {
    let filled = usize::from(percent) / 5; // 20 characters wide
    let bar = "#".repeat(filled) + &"-".repeat(20 - filled);
    format!("[{bar}] {percent:>3}%")
}

/// The per-category table (the filtered records' statistics are in the `result:` line).
fn print_categories(stats: &Stats) {
    println!("[main] every category, over the whole dataset:");
    for (category, totals) in &stats.by_category {
        let (Totals { count, total }, mean) = (totals, totals.mean());
        println!("[main]   {category:?}: {count:>6} records, sum {total:>9}, mean {mean:.2}");
    }
}

/// The same statistics, computed a different way (one filter per question) on the main
/// thread, to check the worker's answer.
fn analyse_sequentially(records: &[Record]) -> Stats {
    let totals_of = |keep: &dyn Fn(&Record) -> bool| Totals {
        count: records.iter().filter(|r| keep(r)).count(),
        total: records
            .iter()
            .filter(|r| keep(r))
            .map(|r| u64::from(r.value))
            .sum(),
    };
    Stats {
        filtered: totals_of(&passes_filter),
        by_category: [Category::A, Category::B, Category::C]
            .into_iter()
            .map(|category| (category, totals_of(&|r: &Record| r.category == category)))
            .collect(),
    }
}
