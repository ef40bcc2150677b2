//! # Lesson l2-03: message channels, pipelines and request/response
//!
//! Replaces the Node course's `03-message-channel`. There, `new MessageChannel()` makes two
//! connected ports, and a port handed to a worker in a `transferList` lets workers talk to
//! each other without the main thread relaying; three such workers form a pipeline (filter
//! `value >= 10`, double, group by category), which the main thread terminates 100 ms after
//! the result, whether or not the stages are done. In Rust a port is a channel end: moving it
//! into a thread, or sending it inside a message, is the transfer, and the compiler forbids
//! any use of it afterwards. A pipeline ends by itself: when a stage's input closes, the
//! stage finishes, drops its output, and so closes the next stage's input.
//!
//! Shows:
//! 1. ports moved into workers (`shared::MessageChannel`): one port at spawn, the other sent
//!    to an already-running worker inside a message; the two workers then talk directly;
//! 2. a worker-to-worker pipeline of stage threads chained by channels, the result checked
//!    against a total computed by hand, each stage ended by the closing of its input;
//! 3. request/response with ids (`shared::request_channel`): three callers share one
//!    server, each gets the answers to its own questions; a caller that timed out never gets
//!    a late answer, and no other caller gets it either.
//!
//! Run: `cargo run --example l2-03-message-channels`
//!
//! Expect: each thread reporting what it does, then `result: 385 over a worker-to-worker
//! port; pipeline 12 items -> 8 kept -> A 130 (4), B 80 (2), C 110 (2); 15 answers to their
//! own callers, 1 late reply discarded`.

use anyhow::{Context, anyhow, ensure};
use crossbeam_channel::{Receiver, Sender};
use shared::channel::{CallerGone, MessageChannel, MessagePort, RequestError, RequestServer};
use std::collections::BTreeMap;
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// The name of the thread this runs on, for the log lines.
fn me() -> String {
    thread::current().name().unwrap_or("<unnamed>").to_owned()
}

/// Spawns a named thread.
fn spawn<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<JoinHandle<T>> {
    thread::Builder::new()
        .name(name.to_owned())
        .spawn(f)
        .with_context(|| format!("could not spawn {name}"))
}

/// Waits for a thread and turns its panic into an error.
fn join<T>(handle: JoinHandle<T>, name: &str) -> anyhow::Result<T> {
    handle.join().map_err(|_| anyhow!("{name} panicked"))
}

// ---------------------------------------------------------------------------------------
// 1. Ports moved into workers
// ---------------------------------------------------------------------------------------

/// The port a squarer works through: it receives numbers and sends back their squares.
type SquarerPort = MessagePort<u64, u64>;

/// Part 1. `producer` gets `port1` when it is spawned; `squarer` is already running and gets
/// `port2` in a message, as Node sends a port with `postMessage({ port }, [port])`. Then the
/// two talk directly; the main thread only wired them up. Returns the producer's total.
fn ports_moved_into_workers() -> anyhow::Result<u64> {
    let (setup_tx, setup_rx) = crossbeam_channel::bounded::<SquarerPort>(1);
    let squarer = spawn("squarer", move || -> anyhow::Result<usize> {
        let port = setup_rx.recv().context("no port arrived")?;
        println!("[{}] got my port in a message", me());
        let mut served = 0;
        // Ends when the producer drops its port: no `close()` call, no terminate.
        for n in &port {
            port.send(n * n)
                .map_err(|_| anyhow!("the producer stopped listening"))?;
            served += 1;
        }
        println!("[{}] the other port is gone: done after {served}", me());
        Ok(served)
    })?;

    let MessageChannel { port1, port2 } = MessageChannel::<u64, u64>::new();
    // The "transfer list": port2 moves into the message, and from there into the squarer.
    setup_tx
        .send(port2)
        .map_err(|_| anyhow!("the squarer ended before it got its port"))?;
    // Uncomment to see the compiler refuse a transferred port:
    // port2.send(1); // error[E0382]: borrow of moved value: `port2`

    let producer = spawn("producer", move || -> anyhow::Result<u64> {
        let mut total = 0;
        for n in 1..=10 {
            port1.send(n).map_err(|_| anyhow!("the squarer hung up"))?;
            let square = port1.recv().context("the squarer hung up")?;
            total += square;
        }
        println!("[{}] sum of the squares of 1..=10: {total}", me());
        Ok(total)
        // `port1` is dropped here: the squarer's loop ends.
    })?;

    let total = join(producer, "producer")??;
    let served = join(squarer, "squarer")??;
    ensure!(served == 10, "the squarer served {served} numbers, not 10");
    Ok(total)
}

// ---------------------------------------------------------------------------------------
// 2. A pipeline of stage threads
// ---------------------------------------------------------------------------------------

/// One record going down the pipeline.
#[derive(Debug, Clone, Copy)]
struct Item {
    id: u32,
    category: &'static str,
    value: i64,
}

/// What the last stage makes of a category.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Group {
    total: i64,
    count: usize,
    ids: Vec<u32>,
}

/// The input. The expected result, worked out by hand (see `expected_groups`):
///
/// | id | category | value | value >= 10? | doubled |
/// |---|---|---|---|---|
/// | 1 | A | 5 | no | |
/// | 2 | A | 12 | yes | 24 |
/// | 3 | B | 10 | yes | 20 |
/// | 4 | C | 9 | no | |
/// | 5 | B | 30 | yes | 60 |
/// | 6 | A | 25 | yes | 50 |
/// | 7 | C | 15 | yes | 30 |
/// | 8 | B | 7 | no | |
/// | 9 | A | 10 | yes | 20 |
/// | 10 | C | 40 | yes | 80 |
/// | 11 | B | 3 | no | |
/// | 12 | A | 18 | yes | 36 |
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

/// The table above, added up: A = 24 + 50 + 20 + 36 = 130 from ids 2, 6, 9, 12;
/// B = 20 + 60 = 80 from ids 3, 5; C = 30 + 80 = 110 from ids 7, 10.
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

/// A stage that passes on what `keep` accepts, transformed by `map`. Returns how many items
/// it saw. Its loop ends when its input closes; returning drops `output`, which closes the
/// next stage's input: the shutdown travels down the pipeline by itself.
fn stage(
    input: Receiver<Item>,
    output: Sender<Item>,
    keep: impl Fn(&Item) -> bool,
    map: impl Fn(Item) -> Item,
) -> usize {
    let mut seen = 0;
    for item in input {
        seen += 1;
        if keep(&item) {
            let item = map(item);
            if output.send(item).is_err() {
                break; // the next stage is gone: nobody wants the rest
            }
        }
    }
    println!("[{}] input closed after {seen} items", me());
    seen
}

/// Part 2: source (main) -> filter -> double -> group. Returns the groups and how many items
/// each stage saw.
fn pipeline() -> anyhow::Result<(BTreeMap<&'static str, Group>, [usize; 3])> {
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
    let group = spawn("group", move || {
        let mut groups = BTreeMap::<&'static str, Group>::new();
        let mut seen = 0;
        for item in group_in {
            seen += 1;
            let entry = groups.entry(item.category).or_insert(Group {
                total: 0,
                count: 0,
                ids: Vec::new(),
            });
            entry.total += item.value;
            entry.count += 1;
            entry.ids.push(item.id);
        }
        println!("[{}] input closed after {seen} items", me());
        (groups, seen)
    })?;

    for (id, category, value) in ITEMS {
        source
            .send(Item {
                id,
                category,
                value,
            })
            .map_err(|_| anyhow!("the filter stage ended early"))?;
    }
    println!("[{}] sent {} items; closing the source", me(), ITEMS.len());
    drop(source);

    let filtered = join(filter, "filter")?;
    let doubled = join(double, "double")?;
    let (groups, grouped) = join(group, "group")?;
    Ok((groups, [filtered, doubled, grouped]))
}

// ---------------------------------------------------------------------------------------
// 3. Request/response with ids
// ---------------------------------------------------------------------------------------

/// How many callers share the server, and how many questions each asks.
const CALLERS: u64 = 3;
const QUESTIONS: u64 = 5;

/// The server's answer to `n`.
fn answer(n: u64) -> u64 {
    n * n
}

/// What the server did: requests answered, and the ids of replies nobody was waiting for.
#[derive(Debug)]
struct ServerLog {
    answered: usize,
    late: Vec<u64>,
}

/// The server. It waits for `gate` before serving, so that the first request is guaranteed
/// to be waiting when its caller gives up. It ends when every client is dropped.
fn serve(server: RequestServer<u64, u64>, gate: Receiver<()>) -> ServerLog {
    let _ = gate.recv(); // a message or a hang-up: either way, start serving
    let mut log = ServerLog {
        answered: 0,
        late: Vec::new(),
    };
    for request in server {
        let (id, question) = (request.id, request.body);
        match request.reply(answer(question)) {
            Ok(()) => {
                println!(
                    "[{}] request {id}: {question} -> {}",
                    me(),
                    answer(question)
                );
                log.answered += 1;
            }
            // The caller stopped waiting, so its reply channel is gone: the answer cannot
            // reach it, and cannot reach anyone else either. (Node's id map crashes on a
            // reply whose id it has deleted.)
            Err(CallerGone { id, response }) => {
                println!(
                    "[{}] request {id}: caller gone, reply {response} discarded",
                    me()
                );
                log.late.push(id);
            }
        }
    }
    log
}

/// Part 3. Returns `(answers checked, server log, id of the request that timed out)`.
fn request_response() -> anyhow::Result<(usize, ServerLog, u64)> {
    let (client, server) = shared::request_channel::<u64, u64>();
    let (open_gate, gate) = crossbeam_channel::bounded::<()>(1);
    let server = spawn("server", move || serve(server, gate))?;

    // A caller that gives up: the server is not serving yet, so this times out, for sure.
    let timed_out = match client.request(7, Duration::from_millis(20)) {
        Err(RequestError::Timeout { id, timeout }) => {
            println!("[{}] request {id} got no answer within {timeout:?}", me());
            id
        }
        other => anyhow::bail!("expected a timeout, got {other:?}"),
    };
    open_gate
        .send(())
        .map_err(|_| anyhow!("the server ended early"))?;

    // Three callers share the server through clones of one client.
    let callers = (1..=CALLERS)
        .map(|caller| {
            let client = client.clone();
            spawn(
                &format!("caller-{caller}"),
                move || -> anyhow::Result<usize> {
                    for i in 1..=QUESTIONS {
                        let question = caller * 1_000 + i;
                        let reply = client
                            .request(question, shared::testing::TIMEOUT)
                            .with_context(|| format!("question {question}"))?;
                        // Each caller waits on its own reply channel: this is its own answer.
                        ensure!(
                            reply == answer(question),
                            "asked {question}, got {reply}: someone else's answer"
                        );
                    }
                    println!("[{}] {QUESTIONS} answers, each to my own question", me());
                    Ok(QUESTIONS as usize)
                },
            )
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    drop(client); // the callers hold the only clients left

    let mut checked = 0;
    for (i, caller) in callers.into_iter().enumerate() {
        checked += join(caller, &format!("caller-{}", i + 1))??;
    }
    let log = join(server, "server")?;
    Ok((checked, log, timed_out))
}

fn main() -> anyhow::Result<()> {
    println!("[main] --- 1. ports moved into workers ---");
    let total = ports_moved_into_workers()?;

    println!("\n[main] --- 2. a pipeline: filter (value >= 10) -> double -> group ---");
    let (groups, seen) = pipeline()?;
    for (category, group) in &groups {
        println!(
            "[main] {category}: total {}, count {}, ids {:?}",
            group.total, group.count, group.ids
        );
    }

    println!("\n[main] --- 3. request/response with ids ---");
    let (answers, log, timed_out) = request_response()?;

    assert_eq!(total, (1..=10u64).map(|n| n * n).sum::<u64>());
    assert_eq!(groups, expected_groups());
    assert_eq!(
        seen,
        [12, 8, 8],
        "each stage sees what the one before it passed on"
    );
    assert_eq!(answers, (CALLERS * QUESTIONS) as usize);
    assert_eq!(log.answered, answers, "every answered request had a caller");
    assert_eq!(
        log.late,
        [timed_out],
        "only the abandoned request went unheard"
    );

    let summary: Vec<String> = groups
        .iter()
        .map(|(category, g)| format!("{category} {} ({})", g.total, g.count))
        .collect();
    println!(
        "result: {total} over a worker-to-worker port; pipeline {} items -> {} kept -> {}; \
         {answers} answers to their own callers, {} late reply discarded",
        seen[0],
        seen[1],
        summary.join(", "),
        log.late.len()
    );
    Ok(())
}
