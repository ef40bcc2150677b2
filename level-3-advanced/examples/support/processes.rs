//! Lesson support, not a lesson (cargo builds only `examples/*.rs` as examples): the process
//! plumbing of lesson l3-39, which includes it with `#[path = "support/processes.rs"] mod
//! processes;`: the two-process configuration, free loopback ports, a child process killed and
//! reaped by a drop guard, and a panic hook that keeps panics off the terminal.

use anyhow::{Context, bail};
use crossbeam_channel::{Receiver, never, select};
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use timely::CommunicationConfig;

/// The first panic's message, kept by [`keep_panics_quiet`].
pub static FIRST_PANIC: OnceLock<String> = OnceLock::new();

/// A panic on the main thread is printed as usual; one on another thread is kept in
/// [`FIRST_PANIC`] instead: a worker's panic comes back from `join` as an error, which the
/// lesson reports in one line, and timely's network threads panic when the other process is
/// lost, which the parent reports itself.
pub fn keep_panics_quiet() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().name() == Some("main") {
            default(info);
        } else {
            let _ = FIRST_PANIC.set(shared::testing::panic_message(info.payload()));
        }
    }));
}

/// Process `process` of two, one worker each, at these addresses (a host file, on machines).
pub fn cluster(process: usize, addresses: &[String; 2]) -> CommunicationConfig {
    let addresses = addresses.to_vec();
    CommunicationConfig::Cluster {
        threads: 1,
        process,
        addresses,
        report: false,
        zerocopy: false,
    }
}

/// How many worker threads each process of `communication` runs.
pub fn threads(communication: &CommunicationConfig) -> usize {
    match communication {
        CommunicationConfig::Process(n) | CommunicationConfig::ProcessBinary(n) => *n,
        CommunicationConfig::Cluster { threads, .. } => *threads,
        CommunicationConfig::Thread => 1,
    }
}

/// A loopback address with a port that was free a moment ago: bind port 0, read it back, let
/// go. Another program could take it before timely binds it; that ends in a clear error
/// ("address in use"), not a hang, so the lesson does not retry.
pub fn free_address() -> anyhow::Result<String> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    Ok(format!("127.0.0.1:{port}"))
}

/// The child process, killed and reaped however the parent leaves its scope.
#[derive(Debug)]
pub struct ChildGuard(pub Child);

impl ChildGuard {
    pub fn spawn(addresses: &[String; 2]) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("cannot find this program's own binary")?;
        let child = Command::new(exe)
            .arg("--process-1")
            .args(addresses)
            .stdin(Stdio::piped()) // held open until the guard drops: the child watches it
            .stdout(Stdio::piped())
            .spawn()
            .context("could not start the second process")?;
        Ok(Self(child))
    }

    /// Waits for this process's result on `ours` and the child's `answer: ` line on stdout, then for
    /// the child to exit successfully: all within `deadline`, or a one-line error.
    pub fn answers<T>(
        &mut self,
        ours: &Receiver<anyhow::Result<T>>,
        deadline: Duration,
    ) -> anyhow::Result<(T, String)> {
        let lines = self.lines()?;
        let (until, no_lines, no_result) = (Instant::now() + deadline, never(), never());
        let (mut mine, mut theirs) = (None, None);
        while mine.is_none() || theirs.is_none() {
            select! {
                recv(if theirs.is_none() { &lines } else { &no_lines }) -> line => match line {
                    Ok(line) => match line.strip_prefix("answer: ") {
                        Some(answer) => theirs = Some(answer.to_owned()),
                        None => println!("[process 1] {line}"),
                    },
                    Err(_) => bail!("the second process {} before it answered", self.ended()),
                },
                recv(if mine.is_none() { ours } else { &no_result }) -> result => match result {
                    Ok(Ok(tally)) => mine = Some(tally),
                    _ => bail!("the second process {}; this one failed", self.ended()),
                },
                default(until.saturating_duration_since(Instant::now())) => {
                    bail!("no answer from the two processes within {deadline:?}")
                }
            }
        }
        match (self.ended(), mine, theirs) {
            ("exited successfully", Some(mine), Some(theirs)) => Ok((mine, theirs)),
            (how, ..) => bail!("the second process {how}"),
        }
    }

    /// The child's stdout as a channel of lines, which disconnects when the child exits.
    fn lines(&mut self) -> anyhow::Result<Receiver<String>> {
        let stdout = self
            .0
            .stdout
            .take()
            .context("the child's stdout was not piped")?;
        let (tx, rx) = crossbeam_channel::unbounded();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Ok(rx)
    }

    /// How the child ended, waiting at most a few seconds for it (polling `try_wait`).
    pub fn ended(&mut self) -> &'static str {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            match self.0.try_wait() {
                Ok(Some(status)) if status.success() => return "exited successfully",
                Ok(Some(_)) => return "died (exited with a failure status)",
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(_) => return "could not be waited for",
            }
        }
        "was still running"
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// In the child: exit when the parent's end of stdin closes (the parent exited, or was killed),
/// rather than wait for a connection that will never come.
pub fn exit_when_parent_exits() {
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        std::process::exit(4);
    });
}
