//! # Lesson l1-07: a practical worker, a dataset with progress and statistics
//!
//! Replaces Node's practical example: 50,000 records sent to a worker through `workerData`, a
//! filter (category A, value at least 500), `postMessage` progress reports, and a final
//! statistics message. Two bugs of the Node version are fixed here: its progress stopped at
//! about 90% (never 100%), and its per-category summary was computed *after* the filter, so
//! only category A ever appeared.
//!
//! Shows: a `Vec` *moved* into the worker (no copy, and the main thread cannot touch it
//! meanwhile); an `enum` as the message protocol (`Progress`, then `Done`); the main thread
//! drawing a progress bar from the messages; the worker handing the dataset back through
//! `join`, so the main thread can check every statistic against a sequential computation.
//!
//! Run: `cargo run --example l1-07-practical-dataset`
//!
//! Expect: ten progress bars from 10% to 100%, the statistics of the filtered records and a
//! table for all three categories, then
//! `result: 8340 of 50000 records are A with value >= 500 (sum 6248695, mean 749.24), checked`.

use anyhow::{Context, anyhow};
use std::collections::BTreeMap;
use std::thread;

/// How many records the dataset holds (the Node example used 50,000).
const LEN: usize = 50_000;
/// Fixed seed: the same dataset on every run and every machine.
const SEED: u64 = 0x2545_f491_4f6c_dd1d;
/// The filter: category A with a value of at least this.
const MIN_VALUE: u32 = 500;

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

/// Totals for one category, over the whole dataset.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct CategoryTotals {
    count: usize,
    total: u64,
}

/// The worker's final answer.
#[derive(Debug, Clone, PartialEq)]
struct Stats {
    /// How many records passed the filter, and their values' sum, mean, max and min
    /// (`None` when nothing passed).
    count: usize,
    total: u64,
    average: Option<f64>,
    max: Option<u32>,
    min: Option<u32>,
    /// Every category, counted over the *whole* dataset, not just the filtered records.
    by_category: BTreeMap<Category, CategoryTotals>,
}

/// What the worker tells the main thread: Node's `{ type: 'progress' }` and
/// `{ type: 'complete' }` objects, as an `enum` the compiler checks.
#[derive(Debug)]
enum Message {
    /// Percent of the records processed so far: 10, 20, ..., 100.
    Progress(u8),
    Done(Stats),
}

/// xorshift64: three shifts and three xors per number. Not for anything that needs good
/// randomness, but deterministic, and enough to make a varied dataset.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

fn generate(len: usize, seed: u64) -> Vec<Record> {
    let mut rng = XorShift(seed);
    (0..len)
        .map(|_| {
            let value = u32::try_from(rng.next() % 1001).expect("0..=1000 fits in a u32");
            let category = match rng.next() % 3 {
                0 => Category::A,
                1 => Category::B,
                _ => Category::C,
            };
            Record { value, category }
        })
        .collect()
}

fn passes_filter(record: &Record) -> bool {
    record.category == Category::A && record.value >= MIN_VALUE
}

fn mean(total: u64, count: usize) -> Option<f64> {
    (count > 0).then(|| total as f64 / count as f64)
}

/// The worker's job: one pass over the records, calling `progress` at every 10% step up to
/// and including 100%.
fn analyse(records: &[Record], mut progress: impl FnMut(u8)) -> Stats {
    let mut stats = Stats {
        count: 0,
        total: 0,
        average: None,
        max: None,
        min: None,
        by_category: BTreeMap::new(),
    };
    let mut next_report = 10;
    for (index, record) in records.iter().enumerate() {
        let totals = stats.by_category.entry(record.category).or_default();
        totals.count += 1;
        totals.total += u64::from(record.value);

        if passes_filter(record) {
            stats.count += 1;
            stats.total += u64::from(record.value);
            stats.max = stats.max.max(Some(record.value));
            stats.min = Some(stats.min.map_or(record.value, |min| min.min(record.value)));
        }

        // Report every 10% step reached, including the last: after the final record
        // `done * 100 / len` is exactly 100.
        let percent = (index + 1) * 100 / records.len();
        while next_report <= percent {
            progress(u8::try_from(next_report).expect("at most 100"));
            next_report += 10;
        }
    }
    stats.average = mean(stats.total, stats.count);
    stats
}

/// The same statistics, computed a different way (iterator adapters, one pass per question)
/// on the main thread, to check the worker's answer.
fn analyse_sequentially(records: &[Record]) -> Stats {
    let values: Vec<u32> = records
        .iter()
        .filter(|r| passes_filter(r))
        .map(|r| r.value)
        .collect();
    let total = values.iter().map(|&v| u64::from(v)).sum();
    let by_category = [Category::A, Category::B, Category::C]
        .into_iter()
        .map(|category| {
            let in_category = records.iter().filter(|r| r.category == category);
            let totals = CategoryTotals {
                count: in_category.clone().count(),
                total: in_category.map(|r| u64::from(r.value)).sum(),
            };
            (category, totals)
        })
        .collect();
    Stats {
        count: values.len(),
        total,
        average: mean(total, values.len()),
        max: values.iter().copied().max(),
        min: values.iter().copied().min(),
        by_category,
    }
}

fn progress_bar(percent: u8) -> String {
    const WIDTH: usize = 20;
    let filled = usize::from(percent) * WIDTH / 100;
    format!(
        "[{}{}] {percent:>3}%",
        "#".repeat(filled),
        "-".repeat(WIDTH - filled)
    )
}

fn main() -> anyhow::Result<()> {
    let records = generate(LEN, SEED);
    println!(
        "[main] generated {} records, moving them into the worker",
        records.len()
    );

    let (sender, receiver) = crossbeam_channel::unbounded();
    let worker = thread::Builder::new()
        .name("dataset-worker".to_owned())
        .spawn(move || {
            // `records` now belongs to this thread: Node's `workerData`, without the copy.
            println!("[dataset-worker] received {} records", records.len());
            // A failed send means the main thread has stopped listening: nobody wants the
            // progress or the result any more, so the worker just finishes.
            let stats = analyse(&records, |percent| {
                let _ = sender.send(Message::Progress(percent));
            });
            println!("[dataset-worker] done, sending the statistics");
            let _ = sender.send(Message::Done(stats));
            // Hand the dataset back: ownership returns through `join`.
            records
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

    println!(
        "[main] category A with value >= {MIN_VALUE}: {} records, sum {}, mean {:.2}, max {}, min {}",
        stats.count,
        stats.total,
        stats.average.unwrap_or(f64::NAN),
        stats.max.map_or("-".to_owned(), |v| v.to_string()),
        stats.min.map_or("-".to_owned(), |v| v.to_string()),
    );
    println!("[main] every category, over the whole dataset:");
    for (category, totals) in &stats.by_category {
        println!(
            "[main]   {category:?}: {:>6} records, sum {:>9}, mean {:.2}",
            totals.count,
            totals.total,
            mean(totals.total, totals.count).unwrap_or(f64::NAN)
        );
    }

    assert_eq!(stats, analyse_sequentially(&records));
    assert!(
        reports.windows(2).all(|pair| pair[0] < pair[1]),
        "progress went backwards: {reports:?}"
    );
    assert_eq!(reports.last(), Some(&100), "progress must reach 100%");
    assert_eq!(reports.len(), 10, "one report per 10% step");
    assert_eq!(
        stats.by_category.len(),
        3,
        "all three categories are counted"
    );
    let counted: usize = stats.by_category.values().map(|t| t.count).sum();
    assert_eq!(counted, LEN);
    // The dataset is fixed by `SEED`, so its answer is too (the header quotes it).
    assert_eq!((stats.count, stats.total), (8_340, 6_248_695));
    println!(
        "result: {} of {LEN} records are A with value >= {MIN_VALUE} (sum {}, mean {:.2}), checked",
        stats.count,
        stats.total,
        stats.average.unwrap_or(f64::NAN)
    );
    Ok(())
}
