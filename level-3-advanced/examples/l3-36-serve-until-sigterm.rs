//! # Lesson l3-36: a service that serves until SIGTERM, then drains
//!
//! Replaces the Node course's production pool: `process.on('SIGTERM')`, a `/health` route, a
//! metrics endpoint, and a shutdown cap that ends in `process.exit(0)` whatever happened.
//! Shows: lessons l3-33 to l3-35 put together. A `WorkerPool` runs jobs; an HTTP thread (the
//! server of `examples/support/http.rs`) answers `/healthz`, `/readyz` and `/metrics`; the first
//! SIGTERM or SIGINT starts the drain: readiness goes to 503, the intake closes, the accepted
//! jobs finish within the deadline, and the exit status says whether they did (0) or not (1).
//! Without arguments, a demo: the endpoints checked, then SIGTERM raised on itself. With
//! `--serve`, it serves until a real SIGTERM or Ctrl-C (`scripts/sigterm-smoke.sh` sends one).
//!
//! Run: `cargo run --release --example l3-36-serve-until-sigterm` (add `-- --serve`, then try
//! `curl http://127.0.0.1:PORT/metrics` from another terminal, then Ctrl-C).
//!
//! Expect (demo): `result: 24 jobs done after SIGTERM, drain complete, exit status 0; /healthz
//! 200, /readyz 200 then 503 while draining; 1 late job refused`.

#[path = "support/http.rs"]
mod http;

use anyhow::{Context, anyhow};
use shared::{pool::WorkerPool, workload::count_primes};
use signal_hook::{consts::SIGINT, consts::SIGTERM, iterator::Signals, low_level::signal_name};
use std::net::{Ipv4Addr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::{process::ExitCode, sync::Arc, thread, time::Duration};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let serve = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => false,
        ["--serve"] => true,
        _ => {
            eprintln!("error: unexpected arguments {args:?}; the only argument is --serve");
            return ExitCode::from(2);
        }
    };
    serve_until_a_signal_then_drain(serve).unwrap_or_else(|e| {
        eprintln!("[main] error: {e:#}");
        ExitCode::FAILURE
    })
}

/// Jobs in the first batch; the numbers each job counts primes in; the drain's deadline.
const BATCH: u64 = 24;
const JOB_BASE: u64 = 10_000_000;
const JOB_SPAN: u64 = 100_000;
const DEADLINE: Duration = Duration::from_secs(10);

fn serve_until_a_signal_then_drain(serve: bool) -> anyhow::Result<ExitCode> {
    // Signals first (lesson l3-34): from here on, SIGTERM and SIGINT do not end the process.
    // This thread has nothing else to do until one comes, so it reads them itself.
    let mut signals = Signals::new([SIGTERM, SIGINT]).context("no signal handlers")?;
    let service = Arc::new(Service::new()?);
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("could not listen")?;
    let addr = listener.local_addr()?;
    let server = {
        let service = Arc::clone(&service);
        thread::spawn(move || http::serve(listener, &service.stop_http, |m, p| service.route(m, p)))
    };
    println!("[main] listening on {addr}");
    for id in 0..BATCH {
        service.submit(id)?;
    }
    let get = |path| http::request(addr, "GET", path).map(|(status, _)| status);
    let mut probes = Vec::new();
    if serve {
        println!("[main] serving until SIGTERM or SIGINT (Ctrl-C)");
    } else {
        probes.extend([get("/healthz")?, get("/readyz")?]);
        println!("[main] demo: /healthz and /readyz answered; raising SIGTERM on myself");
        signal_hook::low_level::raise(SIGTERM)?;
    }
    let signal = signals.forever().next().context("no signal")?;
    let name = signal_name(signal).unwrap_or("a signal");
    println!("[main] received {name}");

    // The drain: not ready, no new jobs, then wait (lesson l3-35) for the ones accepted.
    service.ready.store(false, Relaxed);
    service.pool.close();
    let m = service.pool.metrics();
    println!("[main] draining {} queued, {} running", m.queued, m.running);
    let late_refused = service.submit(BATCH).is_err();
    if !serve {
        probes.extend([get("/readyz")?, get("/healthz")?]);
    }
    let drained = drain(&service)?;
    let (status, metrics) = http::request(addr, "GET", "/metrics")?;
    http::stop(addr, &service.stop_http);
    server.join().ok().context("the HTTP thread panicked")?;

    let m = service.pool.metrics();
    assert_eq!(status, 200);
    assert!(metrics.contains(&format!("\napp_jobs_completed_total {}\n", m.completed)));
    if drained {
        assert_eq!(
            (m.submitted, m.completed, m.queued, m.running),
            (BATCH, BATCH, 0, 0)
        );
    }
    if !serve {
        assert!(drained && late_refused);
        assert_eq!(probes, [200, 200, 503, 200]);
        assert_eq!((m.rejected, m.panicked, m.cancelled), (1, 0, 0));
        let expected = count_primes(JOB_BASE..JOB_BASE + BATCH * JOB_SPAN);
        assert_eq!(service.primes.load(Relaxed), expected, "every job's answer");
    }
    let code = u8::from(!drained); // 0 only if every accepted job finished
    let outcome = if drained { "complete" } else { "FAILED" };
    print!(
        "result: {} jobs done after {name}, drain {outcome}, exit status {code}",
        m.completed
    );
    if let [healthz, readyz, draining, _] = probes[..] {
        print!("; /healthz {healthz}, /readyz {readyz} then {draining} while draining");
        print!("; 1 late job refused");
    }
    println!();
    Ok(ExitCode::from(code))
}

/// What the HTTP thread, the jobs and the drain share. Relaxed everywhere: two flags each read
/// on its own, and `primes` (every job's answer added up) read after the pool is joined.
#[derive(Debug)]
struct Service {
    pool: WorkerPool,
    ready: AtomicBool,
    stop_http: AtomicBool,
    primes: AtomicU64,
}

impl Service {
    fn new() -> anyhow::Result<Self> {
        let pool = WorkerPool::builder().build().context("no pool")?;
        let (ready, stop_http, primes) = (true.into(), false.into(), 0.into());
        Ok(Self {
            pool,
            ready,
            stop_http,
            primes,
        })
    }

    /// Queues job `id`; refused once the intake is closed. Fire and forget: its outcome is
    /// counted in the pool's metrics, its answer in `primes`.
    fn submit(self: &Arc<Self>, id: u64) -> anyhow::Result<()> {
        let (service, low) = (Arc::clone(self), JOB_BASE + id * JOB_SPAN);
        let job = move || {
            service
                .primes
                .fetch_add(count_primes(low..low + JOB_SPAN), Relaxed)
        };
        self.pool.submit(job).map(drop).map_err(|e| anyhow!("{e}"))
    }

    /// The routes: the probes of lesson l3-33, and the pool's numbers in Prometheus's text
    /// format (lesson l3-32 adds a histogram).
    fn route(&self, method: &str, path: &str) -> (u16, String) {
        let ready = self.ready.load(Relaxed);
        match (method, path) {
            ("GET", "/healthz") => (200, "ok\n".into()),
            ("GET", "/readyz") if ready => (200, "ready\n".into()),
            ("GET", "/readyz") => (503, "draining\n".into()),
            ("GET", "/metrics") => {
                let m = self.pool.metrics();
                let mut out = String::new();
                for (name, kind, value) in [
                    ("app_jobs_submitted_total", "counter", m.submitted),
                    ("app_jobs_completed_total", "counter", m.completed),
                    ("app_jobs_rejected_total", "counter", m.rejected),
                    ("app_ready", "gauge", u64::from(ready)),
                ] {
                    out += &format!("# TYPE {name} {kind}\n{name} {value}\n");
                }
                (200, out)
            }
            ("GET", _) => (404, "not found\n".into()),
            _ => (405, "only GET is served\n".into()),
        }
    }
}

/// Waits for the closed pool to finish, for at most DEADLINE (lesson l3-35): true if it did.
/// Past the deadline, the jobs left are stopped, and the process exits with status 1.
fn drain(service: &Arc<Service>) -> anyhow::Result<bool> {
    let (done_tx, done_rx) = crossbeam_channel::bounded(1);
    let joiner = Arc::clone(service);
    thread::spawn(move || done_tx.send(joiner.pool.join().is_ok()));
    if done_rx.recv_timeout(DEADLINE).is_ok() {
        println!("[main] drain complete");
        return Ok(true);
    }
    let m = service.pool.metrics();
    println!(
        "[main] drain FAILED: {} queued, {} running",
        m.queued, m.running
    );
    service.pool.shutdown_now();
    Ok(false)
}
