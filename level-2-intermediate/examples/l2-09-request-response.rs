//! # Lesson l2-09: request/response: every answer reaches its own caller
//!
//! Replaces the Node course's request/response over a port: each request carries an id, the
//! caller keeps a map of pending ids, and a reply whose id was deleted (its caller timed out)
//! crashes the lookup. `shared::request_channel` gives each request its own reply channel: an
//! answer can only reach the caller that asked, and when that caller has given up, its reply
//! channel is gone, so the server learns that the answer has nowhere to go.
//!
//! Shows: one server shared by three callers (clones of one client); each gets the answers
//! to its own questions; a caller that timed out never gets a late answer, and no other
//! caller gets it either. The server ends when every client is dropped.
//!
//! Run: `cargo run --release --example l2-09-request-response`
//!
//! Expect: the timeout, the server's answers, each caller's check, then `result: 15 answers
//! to their own callers, 1 late reply discarded`.

use anyhow::{Context, anyhow, bail, ensure};
use crossbeam_channel::Receiver;
use shared::channel::{CallerGone, RequestError, RequestServer};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// How many callers share the server, and how many questions each asks.
const CALLERS: u64 = 3;
const QUESTIONS: u64 = 5;

fn main() -> anyhow::Result<()> {
    let (client, server) = shared::request_channel::<u64, u64>();
    // The server waits for `gate` before serving, so that the first request is sure to be
    // waiting when its caller gives up.
    let (open_gate, gate) = crossbeam_channel::bounded::<()>(1);
    let server = spawn("server".to_owned(), move || serve(server, gate))?;

    let timed_out = match client.request(7, Duration::from_millis(20)) {
        Err(RequestError::Timeout { id, timeout }) => {
            println!("[main] request {id} got no answer within {timeout:?}");
            id
        }
        other => bail!("expected a timeout, got {other:?}"),
    };
    open_gate
        .send(())
        .map_err(|_| anyhow!("the server ended early"))?;

    let callers = (1..=CALLERS)
        .map(|caller| {
            let client = client.clone();
            spawn(
                format!("caller-{caller}"),
                move || -> anyhow::Result<usize> {
                    for i in 1..=QUESTIONS {
                        let question = caller * 1_000 + i;
                        let reply = client
                            .request(question, shared::testing::TIMEOUT)
                            .with_context(|| format!("question {question}"))?;
                        ensure!(reply == answer(question), "asked {question}, got {reply}");
                    }
                    println!("[{}] {QUESTIONS} answers, each to my own question", me());
                    Ok(QUESTIONS as usize)
                },
            )
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    drop(client); // the callers hold the only clients left: the server ends after them

    let mut answers = 0;
    for caller in callers {
        answers += caller.join().map_err(|_| anyhow!("a caller panicked"))??;
    }
    let log = server.join().map_err(|_| anyhow!("the server panicked"))?;

    assert_eq!(answers, (CALLERS * QUESTIONS) as usize);
    assert_eq!(log.answered, answers, "every answered request had a caller");
    assert_eq!(
        log.late,
        [timed_out],
        "only the abandoned request went unheard"
    );
    println!(
        "result: {answers} answers to their own callers, {} late reply discarded",
        log.late.len()
    );
    Ok(())
}

fn spawn<T: Send + 'static>(
    name: String,
    f: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<JoinHandle<T>> {
    thread::Builder::new()
        .name(name.clone())
        .spawn(f)
        .with_context(|| format!("could not spawn {name}"))
}

fn me() -> String {
    thread::current().name().unwrap_or("<unnamed>").to_owned()
}

/// What the server did: requests answered, and the ids of replies nobody was waiting for.
#[derive(Debug, Default)]
struct ServerLog {
    answered: usize,
    late: Vec<u64>,
}

/// The server: answers every request until every client is dropped.
fn serve(server: RequestServer<u64, u64>, gate: Receiver<()>) -> ServerLog {
    let _ = gate.recv(); // a message or a hang-up: either way, start serving
    let mut log = ServerLog::default();
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
            // reach it, nor anyone else.
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

/// The server's answer to `n`.
fn answer(n: u64) -> u64 {
    n * n
}
