//! # Lesson l1-02: message passing
//!
//! Replaces Node's `worker.postMessage(msg)` / `parentPort.on('message', ...)` in both
//! directions, and the `typeof msg === 'string'` checks that sort mixed messages: in Rust the
//! protocol is an `enum`, each direction is a channel, and `match` sorts the messages. The
//! compiler checks that every kind of message is handled.
//!
//! Shows: messages both ways over two channels, typed by a request enum and a reply enum; the
//! worker's receive loop ends by itself when the main thread drops its sender (no
//! `terminate()`), and the main thread's ends when the worker drops its own.
//!
//! Run: `cargo run --example l1-02-message-passing`
//!
//! Expect: the worker reports the four requests it got, the main thread the four replies, then
//! `result: 4 requests, 4 replies (echo, 42 doubled = 84, sum of [1, 2, 3, 4, 5] = 15, 3 fruits)`.

use anyhow::{Context, anyhow};
use crossbeam_channel::{Receiver, Sender};
use std::thread;

fn main() -> anyhow::Result<()> {
    // Two channels, one per direction. `unbounded`: `send` never blocks, like `postMessage`.
    let (request_tx, request_rx) = crossbeam_channel::unbounded::<Request>();
    let (reply_tx, reply_rx) = crossbeam_channel::unbounded::<Reply>();

    // The worker owns the receiving end of the requests and the sending end of the replies.
    let worker = thread::Builder::new()
        .name("msg-worker".to_owned())
        .spawn(move || serve(request_rx, reply_tx))
        .context("could not spawn the worker")?;

    let fruits = vec!["apple".to_owned(), "banana".to_owned(), "cherry".to_owned()];
    let requests = vec![
        Request::Text("Hello, worker!".to_owned()),
        Request::Number(42),
        Request::Task(vec![1, 2, 3, 4, 5]),
        Request::List(fruits.clone()),
    ];
    let sent = send_all_then_close(request_tx, requests)?;
    let replies = read_every_reply(&reply_rx);
    let served = worker.join().map_err(|_| anyhow!("the worker panicked"))?;

    // Channels keep order: the replies come back in the order the requests went out.
    let expected = [
        Reply::Echo("Hello, worker!".to_owned()),
        Reply::Doubled {
            original: 42,
            doubled: 84,
        },
        Reply::Sum {
            numbers: vec![1, 2, 3, 4, 5],
            sum: 15,
        },
        Reply::Counted {
            count: 3,
            items: fruits,
        },
    ];
    assert_eq!(replies, expected);
    assert_eq!(served, sent);
    println!(
        "result: {sent} requests, {} replies (echo, 42 doubled = 84, sum of [1, 2, 3, 4, 5] = 15, 3 fruits)",
        replies.len()
    );
    Ok(())
}

/// What the main thread can ask: every kind of message the Node example sends with
/// `postMessage`, as one type. A message of any other shape does not compile.
#[derive(Debug)]
enum Request {
    Text(String),
    Number(i64),
    Task(Vec<i64>),
    List(Vec<String>),
}

/// What the worker answers. Replies are typed too, so the main thread `match`es them as well.
#[derive(Debug, PartialEq)]
enum Reply {
    Echo(String),
    Doubled { original: i64, doubled: i64 },
    Sum { numbers: Vec<i64>, sum: i64 },
    Counted { count: usize, items: Vec<String> },
}

/// The worker: answers requests until the channel closes, then returns how many it served.
fn serve(requests: Receiver<Request>, replies: Sender<Reply>) -> usize {
    let mut served = 0;
    // `parentPort.on('message')` as a loop. `recv` fails once every `Sender` is dropped and
    // the queue is empty, which ends the loop: that is the worker's whole shutdown protocol.
    for request in requests {
        println!("[msg-worker] got {request:?}");
        // Node's `if (typeof msg === 'string') ...`, checked by the compiler: add a variant
        // to `Request` and this `match` fails to build until it handles it.
        let reply = match request {
            Request::Text(text) => Reply::Echo(text),
            Request::Number(n) => Reply::Doubled {
                original: n,
                doubled: n * 2,
            },
            Request::Task(numbers) => {
                let sum = numbers.iter().sum();
                Reply::Sum { numbers, sum }
            }
            Request::List(items) => Reply::Counted {
                count: items.len(),
                items,
            },
        };
        // Fails only if the main thread dropped its receiver: nobody is listening, so stop.
        if replies.send(reply).is_err() {
            break;
        }
        served += 1;
    }
    println!("[msg-worker] my inbox is closed and empty: stopping after {served} requests");
    served
    // `replies` is dropped here, which closes the main thread's reply loop.
}

/// Sends every request, then drops the only `Sender`: "no more messages". The worker finishes
/// what is queued, leaves its loop and ends by itself. Nothing needs terminating.
fn send_all_then_close(sender: Sender<Request>, requests: Vec<Request>) -> anyhow::Result<usize> {
    let count = requests.len();
    for request in requests {
        println!("[main] sending {request:?}");
        // The value moves into the channel: no copy is made, and main cannot touch it again.
        sender
            .send(request)
            .map_err(|_| anyhow!("the worker stopped before reading its inbox"))?;
    }
    drop(sender);
    Ok(count)
}

/// Reads replies until the worker drops its `Sender`: this loop cannot stop early and miss a
/// late reply, and cannot wait forever for one that will never come.
fn read_every_reply(replies: &Receiver<Reply>) -> Vec<Reply> {
    let mut all = Vec::new();
    for reply in replies {
        match &reply {
            Reply::Echo(text) => println!("[main] echo: {text:?}"),
            Reply::Doubled { original, doubled } => {
                println!("[main] {original} doubled = {doubled}")
            }
            Reply::Sum { numbers, sum } => println!("[main] sum of {numbers:?} = {sum}"),
            Reply::Counted { count, items } => println!("[main] {count} items: {items:?}"),
        }
        all.push(reply);
    }
    all
}
