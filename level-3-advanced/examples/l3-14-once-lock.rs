//! # Lesson l3-14: `OnceLock`, built once from any thread
//!
//! Replaces the Node course's "initialise the shared state in the constructor" pattern, which
//! ran once per worker and so reset the state the other workers were using. Data computed on
//! first use and then only read (a table, a configuration) wants exactly one initialisation
//! even when several threads ask at once. `OnceLock::get_or_init` runs its closure once; the
//! other callers wait for it and then share the result. (`LazyLock` puts the closure in the
//! declaration: guide 2.)
//!
//! Shows: 8 threads released together by a `Barrier` (lesson l3-11) race to initialise one
//! `static` `OnceLock`; it is built exactly once, and all 8 get the very same value (the same
//! address).
//!
//! Run: `cargo run --release --example l3-14-once-lock`
//!
//! Expect: one `building the settings` line, from whichever thread won, then
//! `result: OnceLock built 1 time for 8 threads`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex, OnceLock, PoisonError};
use std::thread;

const THREADS: usize = 8;

static SETTINGS: OnceLock<Vec<String>> = OnceLock::new();
static BUILT: AtomicUsize = AtomicUsize::new(0);

fn main() {
    let addresses = everyone_asks_at_once();
    let same = addresses.iter().filter(|&&a| a == addresses[0]).count();
    // Relaxed: a count read after every thread has been joined.
    let built = BUILT.load(Ordering::Relaxed);
    println!("[main] built {built} time(s); {same} of {THREADS} threads got the very same value");
    assert_eq!(built, 1, "built exactly once");
    assert_eq!(same, THREADS, "every thread got the one value");
    println!("result: OnceLock built {built} time for {same} threads");
}

/// `THREADS` threads ask for the settings at about the same moment. Returns the address each
/// one got.
fn everyone_asks_at_once() -> Vec<usize> {
    let start = Barrier::new(THREADS);
    let addresses = Mutex::new(Vec::new());
    thread::scope(|s| {
        for i in 0..THREADS {
            let (start, addresses) = (&start, &addresses);
            thread::Builder::new()
                .name(format!("settings-user-{i}"))
                .spawn_scoped(s, move || {
                    start.wait();
                    let address = std::ptr::from_ref(settings()).addr();
                    addresses
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(address);
                })
                .expect("could not spawn a thread");
        }
    });
    addresses
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
}

/// The settings, built by the first caller; every later caller, and every caller that arrives
/// while it is being built, gets the same `&'static` value.
fn settings() -> &'static Vec<String> {
    SETTINGS.get_or_init(|| {
        // Relaxed: a count read after every thread has been joined.
        BUILT.fetch_add(1, Ordering::Relaxed);
        println!(
            "[{}] building the settings",
            thread::current().name().unwrap_or("<unnamed>")
        );
        vec!["threads=4".to_owned(), "queue=1024".to_owned()]
    })
}
