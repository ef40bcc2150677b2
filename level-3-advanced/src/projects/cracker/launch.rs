//! `--processes N` on one machine: process 0 starts the others as copies of the running
//! program, watches them while it searches, and reaps them (see the example's header).

use super::{Cluster, Keyspace, Outcome, Target, crack_distributed};
use anyhow::{Context, anyhow};
use std::io::Read;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// How long a distributed run may last before the first process gives up on it, in one
/// line: an hour, beyond the 7-letter searches (minutes) this program is meant for; an
/// 8-letter search, hours long, ends with that error.
pub const RUN_DEADLINE: Duration = Duration::from_secs(3600);

/// How long a stopping child process gets to exit, after its search or after being killed.
pub const EXIT_DEADLINE: Duration = Duration::from_secs(10);

/// `--processes N`: starts processes 1..N as copies of the running program (which must
/// accept `--hash HEX --max-len N --process I --peers ...`), is process 0 itself, and
/// returns process 0's outcome, which counts every process.
pub fn launch(target: &Target, keyspace: Keyspace, processes: usize) -> anyhow::Result<Outcome> {
    // Process 0 keeps its listener bound, so the children can connect as soon as they start.
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot listen on 127.0.0.1")?;
    let mut addresses = vec![listener.local_addr()?.to_string()];
    // The children's ports are picked free here (bind port 0, read it back) and released for
    // the child to bind: another program could take one in between. On loopback that window
    // is a few milliseconds; if it happens, that child fails to listen and the run fails in
    // one line rather than hanging, which is acceptable for a teaching project.
    for _ in 1..processes {
        let probe = TcpListener::bind("127.0.0.1:0").context("cannot listen on 127.0.0.1")?;
        addresses.push(probe.local_addr()?.to_string());
    }
    let peers = addresses.join(",");
    let exe = std::env::current_exe().context("cannot find this program to start it again")?;
    let mut children = Children(Vec::new());
    for index in 1..processes {
        let child = Command::new(&exe)
            .args(["--hash", &target.to_string(), "--max-len"])
            .arg(keyspace.max_len().to_string())
            .args(["--process", &index.to_string(), "--peers", &peers])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start process {index}"))?;
        children.0.push(child);
    }
    quiet_timely_network_panics();
    let cluster = Cluster {
        index: 0,
        addresses,
        exit_after_blocks: None,
    };
    let (done, result) = mpsc::channel();
    let target = *target;
    // The search runs on its own thread so that this one can watch the children: if one dies,
    // timely's connections break, and process 0 might wait for it forever.
    thread::spawn(move || {
        done.send(crack_distributed(
            &target,
            keyspace,
            &cluster,
            Some(listener),
        ))
    });
    let deadline = Instant::now() + RUN_DEADLINE;
    let outcome = loop {
        match result.recv_timeout(Duration::from_millis(20)) {
            Ok(Ok(outcome)) => break outcome,
            // A failure here is most often a child's death seen as a broken connection: name
            // the child, if one has died, rather than its consequence.
            Ok(Err(error)) => {
                children.blame(Duration::from_secs(2))?;
                return Err(error.into());
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                children.blame(Duration::from_secs(2))?;
                return Err(anyhow!("process 0 panicked"));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        children.check_running()?;
        if Instant::now() > deadline {
            return Err(anyhow!("no answer within {} s", RUN_DEADLINE.as_secs()));
        }
    };
    children.finish()?;
    Ok(outcome)
}

/// The child processes of one run; dropping it kills and reaps every one still running.
struct Children(Vec<Child>);

impl Children {
    /// Fails if a child has already exited unsuccessfully before the answer arrived.
    fn check_running(&mut self) -> anyhow::Result<()> {
        for (i, child) in self.0.iter_mut().enumerate() {
            if let Some(status) = child.try_wait()?
                && !status.success()
            {
                return Err(anyhow!(
                    "process {} stopped before the search finished ({status}{})",
                    i + 1,
                    last_words(child)
                ));
            }
        }
        Ok(())
    }

    /// After process 0 failed: waits up to `grace` for a child to show it has failed too
    /// (its connection may break a moment before its exit status can be read), and fails
    /// naming it if one did.
    fn blame(&mut self, grace: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + grace;
        loop {
            self.check_running()?;
            if Instant::now() > deadline
                || self
                    .0
                    .iter_mut()
                    .all(|c| matches!(c.try_wait(), Ok(Some(_))))
            {
                return Ok(());
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// After the answer: every child must exit, successfully, within `EXIT_DEADLINE`.
    fn finish(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + EXIT_DEADLINE;
        for (i, child) in self.0.iter_mut().enumerate() {
            match wait_until(child, deadline)? {
                Some(status) if status.success() => {}
                Some(status) => {
                    return Err(anyhow!(
                        "process {} failed ({status}{})",
                        i + 1,
                        last_words(child)
                    ));
                }
                None => {
                    return Err(anyhow!(
                        "process {} did not exit within {} s",
                        i + 1,
                        EXIT_DEADLINE.as_secs()
                    ));
                }
            }
        }
        Ok(())
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        let deadline = Instant::now() + EXIT_DEADLINE;
        for child in &mut self.0 {
            if let Ok(None) = child.try_wait() {
                let _ = child.kill();
            }
            // A killed process exits at once; the deadline only guards against the unexpected.
            let _ = wait_until(child, deadline);
        }
    }
}

/// Waits for `child` to exit, polling until `deadline`; `None` if it is still running.
fn wait_until(
    child: &mut Child,
    deadline: Instant,
) -> std::io::Result<Option<std::process::ExitStatus>> {
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() > deadline {
            return Ok(None);
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// The first line a stopped child wrote on stderr, as `: line`, or nothing.
fn last_words(child: &mut Child) -> String {
    let mut text = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        // The child has exited, so its end of the pipe is closed and this read ends.
        let _ = stderr.read_to_string(&mut text);
    }
    text.lines()
        .next()
        .map(|line| format!(": {line}"))
        .unwrap_or_default()
}

/// A broken connection makes timely's network threads panic with "timely communication
/// error", then its worker with "MergeQueue poisoned." and its shutdown with "Send thread
/// panic"; the run then fails with its own one-line error, so those three panics' messages
/// and backtraces are not printed. Every other panic is printed as usual.
pub fn quiet_timely_network_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        let broken_link = text.starts_with("timely communication error")
            || text.starts_with("MergeQueue poisoned")
            || text.starts_with("Send thread panic");
        if !broken_link {
            default(info);
        }
    }));
}
