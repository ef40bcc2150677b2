//! # Lesson l3-33: liveness and readiness over HTTP
//!
//! Replaces the Node course's `/health` route. Shows: the two probes a load balancer or
//! Kubernetes asks. `GET /healthz` is liveness: 200 while the process can answer (a failure
//! gets the process restarted). `GET /readyz` is readiness: 503 once the service stops taking
//! work, so that no more traffic is sent to it while it drains, and 200 before. The readiness
//! flag is an `AtomicBool` the routes read. The server is a tiny loopback HTTP server on one
//! thread (std `TcpListener`), kept in the lesson-support file `examples/support/http.rs`,
//! which lesson l3-36 uses too; this lesson's part is the routes.
//!
//! Run: `cargo run --release --example l3-33-health-readiness`
//!
//! Expect: `listening on 127.0.0.1:PORT`, each request's status, then `result: /healthz 200,
//! /readyz 200 then 503 while draining, /healthz still 200; unknown path 404, POST 405`.

#[path = "support/http.rs"]
mod http;

use anyhow::Context;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

fn main() -> anyhow::Result<()> {
    let ready = Arc::new(AtomicBool::new(true));
    let stop = Arc::new(AtomicBool::new(false));
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("could not listen")?;
    let addr = listener.local_addr()?;
    let server = {
        let (ready, stop) = (Arc::clone(&ready), Arc::clone(&stop));
        thread::Builder::new().name("http".into()).spawn(move || {
            http::serve(listener, &stop, |method, path| route(&ready, method, path))
        })?
    };
    println!("[main] listening on {addr}");
    let before = [
        probe(addr, "GET", "/healthz")?,
        probe(addr, "GET", "/readyz")?,
    ];
    // The drain begins: readiness goes down; liveness stays up, or the service would be
    // restarted in the middle of its drain.
    ready.store(false, Ordering::Relaxed);
    let during = [
        probe(addr, "GET", "/readyz")?,
        probe(addr, "GET", "/healthz")?,
    ];
    let others = [
        probe(addr, "GET", "/nope")?,
        probe(addr, "POST", "/healthz")?,
    ];
    http::stop(addr, &stop);
    server
        .join()
        .map_err(|_| anyhow::anyhow!("the server panicked"))?;

    assert_eq!(before, [200, 200]);
    assert_eq!(during, [503, 200]);
    assert_eq!(others, [404, 405]);
    println!(
        "result: /healthz {}, /readyz {} then {} while draining, /healthz still {}; unknown path \
         {}, POST {}",
        before[0], before[1], during[0], during[1], others[0], others[1]
    );
    Ok(())
}

/// The routes. Relaxed: `ready` is a flag read on its own, publishing no other data.
fn route(ready: &AtomicBool, method: &str, path: &str) -> (u16, String) {
    println!("[http] {method} {path}");
    let (status, body) = match (method, path) {
        ("GET", "/healthz") => (200, "ok\n"),
        ("GET", "/readyz") if ready.load(Ordering::Relaxed) => (200, "ready\n"),
        ("GET", "/readyz") => (503, "draining\n"),
        ("GET", _) => (404, "not found\n"),
        _ => (405, "only GET is served\n"),
    };
    (status, body.to_owned())
}

/// One request, as a probe sends it; returns the status.
fn probe(addr: SocketAddr, method: &str, path: &str) -> anyhow::Result<u16> {
    let (status, _) = http::request(addr, method, path)?;
    println!("[main] {method} {path}: {status}");
    Ok(status)
}
