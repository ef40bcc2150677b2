//! # Lesson l2-08: a pipeline that ends itself
//!
//! Replaces the Node course's worker-to-worker pipeline (its `03-message-channel`): three
//! workers chained by `MessageChannel`s (filter `value >= 10`, double, group by category),
//! which the main thread terminated 100 ms after the result, whether or not the stages were
//! done. Here each stage is a thread between two channels, and the pipeline ends by itself:
//! when a stage's input closes, the stage finishes, drops its output, and so closes the next
//! stage's input.
//!
//! Shows: source (main) -> filter -> double -> group, on bounded channels; the groups checked
//! against a total worked out by hand; each stage reporting that its input closed.
//!
//! Run: `cargo run --release --example l2-08-pipeline`
//!
//! Expect: each stage's "input closed" line, the groups, then `result: pipeline 12 items ->
//! 8 kept -> A 130 (4), B 80 (2), C 110 (2)`.

use anyhow::{Context, anyhow};
use crossbeam_channel::{Receiver, Sender};
use std::collections::BTreeMap;
use std::thread::{self, JoinHandle};

fn main() -> anyhow::Result<()> {
    // Bounded: a fast stage waits for a slow one instead of piling up its output.
    let (source, filter_in) = crossbeam_channel::bounded::<Item>(4);
    let (filter_out, double_in) = crossbeam_channel::bounded::<Item>(4);
    let (double_out, group_in) = crossbeam_channel::bounded::<Item>(4);
    let filter = spawn("filter", move || {
        stage(filter_in, filter_out, |item| item.value >= 10, |item| item)
    })?;
    let double = spawn("double", move || {
        stage(
            double_in,
            double_out,
            |_| true,
            |item| Item {
                value: item.value * 2,
                ..item
            },
        )
    })?;
    let group = spawn("group", move || group_by_category(group_in))?;

    for (id, category, value) in ITEMS {
        source
            .send(Item {
                id,
                category,
                value,
            })
            .map_err(|_| anyhow!("the filter stage ended early"))?;
    }
    println!("[main] sent {} items; closing the source", ITEMS.len());
    drop(source); // the end signal: it travels down the pipeline by itself

    let join = |h: JoinHandle<usize>| h.join().map_err(|_| anyhow!("a stage panicked"));
    let seen = [join(filter)?, join(double)?];
    let (groups, grouped) = group.join().map_err(|_| anyhow!("group panicked"))?;
    for (category, g) in &groups {
        println!(
            "[main] {category}: total {}, count {}, ids {:?}",
            g.total, g.count, g.ids
        );
    }

    assert_eq!(groups, expected_groups());
    assert_eq!(
        [seen[0], seen[1], grouped],
        [12, 8, 8],
        "each stage sees what the one before passed"
    );
    let summary: Vec<String> = groups
        .iter()
        .map(|(category, g)| format!("{category} {} ({})", g.total, g.count))
        .collect();
    println!(
        "result: pipeline {} items -> {} kept -> {}",
        seen[0],
        seen[1],
        summary.join(", ")
    );
    Ok(())
}

/// The input: `(id, category, value)`. Kept (value >= 10) and doubled, it groups into
/// A = 24 + 50 + 20 + 36 = 130 from ids 2, 6, 9, 12; B = 20 + 60 = 80 from ids 3, 5;
/// C = 30 + 80 = 110 from ids 7, 10. Ids 1, 4, 8 and 11 are under 10 and dropped.
const ITEMS: [(u32, &str, i64); 12] = [
    (1, "A", 5),
    (2, "A", 12),
    (3, "B", 10),
    (4, "C", 9),
    (5, "B", 30),
    (6, "A", 25),
    (7, "C", 15),
    (8, "B", 7),
    (9, "A", 10),
    (10, "C", 40),
    (11, "B", 3),
    (12, "A", 18),
];

/// One record going down the pipeline.
#[derive(Debug, Clone, Copy)]
struct Item {
    id: u32,
    category: &'static str,
    value: i64,
}

fn spawn<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<JoinHandle<T>> {
    thread::Builder::new()
        .name(name.to_owned())
        .spawn(f)
        .with_context(|| format!("could not spawn {name}"))
}

fn me() -> String {
    thread::current().name().unwrap_or("<unnamed>").to_owned()
}

/// A stage that passes on what `keep` accepts, transformed by `map`. Returns how many items
/// it saw. Its loop ends when its input closes; returning drops `output`, which closes the
/// next stage's input.
fn stage(
    input: Receiver<Item>,
    output: Sender<Item>,
    keep: impl Fn(&Item) -> bool,
    map: impl Fn(Item) -> Item,
) -> usize {
    let mut seen = 0;
    for item in input {
        seen += 1;
        if keep(&item) && output.send(map(item)).is_err() {
            break; // the next stage is gone: nobody wants the rest
        }
    }
    println!("[{}] input closed after {seen} items", me());
    seen
}

/// What the last stage makes of a category.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Group {
    total: i64,
    count: usize,
    ids: Vec<u32>,
}

/// The last stage: adds up each category until its input closes.
fn group_by_category(input: Receiver<Item>) -> (BTreeMap<&'static str, Group>, usize) {
    let mut groups = BTreeMap::<&'static str, Group>::new();
    let mut seen = 0;
    for item in input {
        seen += 1;
        let entry = groups.entry(item.category).or_default();
        entry.total += item.value;
        entry.count += 1;
        entry.ids.push(item.id);
    }
    println!("[{}] input closed after {seen} items", me());
    (groups, seen)
}

/// The groups worked out by hand (see `ITEMS`).
fn expected_groups() -> BTreeMap<&'static str, Group> {
    let group = |total, ids: &[u32]| Group {
        total,
        count: ids.len(),
        ids: ids.to_vec(),
    };
    BTreeMap::from([
        ("A", group(130, &[2, 6, 9, 12])),
        ("B", group(80, &[3, 5])),
        ("C", group(110, &[7, 10])),
    ])
}
