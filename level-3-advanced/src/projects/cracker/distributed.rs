//! The search as a timely dataflow over several processes (`--processes N`).
//!
//! Every process runs this same code with one timely worker; process `p` of `n` owns the
//! blocks `b` with `b % n == p`, dealt round by round as the threads of `search.rs` deal them.
//! Two streams cross the processes:
//!
//! - **found**: a process that hashes the password sends `(index, password)`, and the stream
//!   is *broadcast*, so every process sees it; each checks before every block whether a find
//!   has arrived and stops if so. That is the early stop: a flag carried by the dataflow
//!   instead of an `AtomicBool`.
//!
//!   Its timestamps are rounds: a process advances its input to `r + 1` once it has finished
//!   round `r`, and a *probe* after the broadcast tells every process the lowest round not yet
//!   finished everywhere, with every record of the earlier rounds already delivered. A process
//!   starts round `r` only once that frontier has reached `r - MAX_LEAD_ROUNDS`: the bounded
//!   lead of `search.rs`, here from timely's progress tracking instead of a futex. A find in
//!   round `r` holds the frontier at `r` until it has reached every process, so none starts
//!   round `r + MAX_LEAD_ROUNDS + 1` without having seen it, and the same bound holds as
//!   for threads, whatever the scheduling and the network:
//!   `(i / BLOCK / n + MAX_LEAD_ROUNDS + 1) * n * BLOCK` candidates for a password at index
//!   `i` and `n` processes.
//! - **tried**: each process sends `(process, candidates hashed)` when it stops, *exchanged*
//!   to process 0, which thus learns every process's share.
//!
//! Process 0's [`Outcome`] is the answer: the lowest find it saw (there is at most one
//! password per digest in practice) and every process's count in `tried_per_thread`.
//!
//! The TCP connections are made here rather than by timely's own `Config::Cluster`, so that
//! every wait has a deadline ([`CONNECT_DEADLINE`]) and nothing is printed: process `p`
//! connects to every lower-numbered process and says who it is (8 bytes, little-endian), and
//! accepts a connection from every higher-numbered one on its own address.

use super::keyspace::Cursor;
use super::target::sha256;
use super::{BLOCK, CrackError, Found, Keyspace, MAX_LEAD_ROUNDS, Outcome, Target};
use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::rc::Rc;
use std::thread;
use std::time::{Duration, Instant};
use timely::communication::Hooks;
use timely::communication::allocator::zero_copy::initialize::initialize_networking_from_sockets;
use timely::communication::allocator::{AllocatorBuilder, ProcessBuilder};
use timely::dataflow::operators::vec::Broadcast;
use timely::dataflow::operators::{Exchange, Input, Inspect, Probe};

/// How long the processes may take to connect to each other before the run fails.
pub const CONNECT_DEADLINE: Duration = Duration::from_secs(20);

/// The most processes `--processes` starts on one machine: each is a whole copy of the
/// program, and more than a few per core only adds start-up and network traffic.
pub const MAX_PROCESSES: usize = 16;

/// One process's part in a distributed search.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// This process's number, `0..addresses.len()`.
    pub index: usize,
    /// `host:port` of every process, in process order.
    pub addresses: Vec<String>,
    /// **Test hook**: exit the whole process with code 3 after hashing this many blocks, as a
    /// process that crashes mid-run would (`None` in normal use).
    pub exit_after_blocks: Option<u64>,
}

/// Runs this process's share of the search; `listener`, if given, is already bound to this
/// process's address (the parent binds its own before starting the others, so they can
/// connect at once). Only process 0's outcome holds every process's count.
pub fn crack_distributed(
    target: &Target,
    keyspace: Keyspace,
    cluster: &Cluster,
    listener: Option<TcpListener>,
) -> Result<Outcome, CrackError> {
    let processes = cluster.addresses.len();
    if processes == 0 || processes > MAX_PROCESSES || cluster.index >= processes {
        return Err(CrackError::Processes {
            index: cluster.index,
            processes,
        });
    }
    let started = Instant::now();
    let network = |source| CrackError::Network {
        process: cluster.index,
        source,
    };
    let sockets = connect(cluster, listener, started + CONNECT_DEADLINE).map_err(network)?;
    let hooks = Hooks::default();
    let local = ProcessBuilder::new_typed_vector(1, hooks.refill.clone(), hooks.spill.clone());
    let (builders, comms) =
        initialize_networking_from_sockets(local, sockets, cluster.index, 1, hooks)
            .map_err(network)?;
    let builders = builders.into_iter().map(AllocatorBuilder::Tcp).collect();

    let (target, exit_after) = (*target, cluster.exit_after_blocks);
    let guards = timely::execute::execute_from(
        builders,
        Box::new(comms),
        timely::WorkerConfig::default(),
        move |worker| search_share(worker, &target, keyspace, exit_after),
    )
    .map_err(|message| CrackError::Panicked {
        thread: cluster.index,
        message,
    })?;
    let mut results = guards.join();
    let result = results.pop().ok_or_else(|| CrackError::Panicked {
        thread: cluster.index,
        message: "no timely worker ran".to_owned(),
    })?;
    let (found, mut tried_per_process) = result.map_err(|message| CrackError::Panicked {
        thread: cluster.index,
        message,
    })?;
    tried_per_process.sort_unstable();
    Ok(Outcome {
        found: found.map(|(index, password)| Found {
            password,
            index,
            thread: 0,
        }),
        tried: tried_per_process.iter().map(|(_, n)| n).sum(),
        tried_per_thread: tried_per_process.into_iter().map(|(_, n)| n).collect(),
        keyspace: keyspace.size(),
        threads: processes,
        elapsed: started.elapsed(),
    })
}

/// What one worker returns: the lowest find it saw, and (on process 0) every process's count.
type Share = (Option<(u64, String)>, Vec<(u64, u64)>);

/// The dataflow and the search loop of one timely worker.
fn search_share(
    worker: &mut timely::worker::Worker,
    target: &Target,
    keyspace: Keyspace,
    exit_after: Option<u64>,
) -> Share {
    let (me, peers) = (worker.index() as u64, worker.peers() as u64);
    let seen: Rc<RefCell<Option<(u64, String)>>> = Rc::default();
    let counts: Rc<RefCell<Vec<(u64, u64)>>> = Rc::default();
    let (seen_in, counts_in) = (Rc::clone(&seen), Rc::clone(&counts));
    let (mut found, mut tried, rounds) = worker.dataflow::<u64, _, _>(move |scope| {
        let (found, finds) = scope.new_input::<Vec<(u64, String)>>();
        let (rounds, _) = finds
            .broadcast()
            .inspect(move |(index, password)| {
                let mut seen = seen_in.borrow_mut();
                if seen.as_ref().is_none_or(|(lowest, _)| index < lowest) {
                    *seen = Some((*index, password.clone()));
                }
            })
            .probe();
        let (tried, counts) = scope.new_input::<Vec<(u64, u64)>>();
        counts
            .exchange(|_| 0)
            .inspect(move |count| counts_in.borrow_mut().push(*count));
        (found, tried, rounds)
    });

    let blocks = keyspace.size().div_ceil(BLOCK);
    let mut hashed = 0u64;
    for round in 0.. {
        let block = round * peers + me;
        // Waits, moving the dataflow's records meanwhile, until no process is more than
        // MAX_LEAD_ROUNDS rounds behind this one; a find that arrives meanwhile ends the wait.
        while seen.borrow().is_none() && rounds.less_than(&round.saturating_sub(MAX_LEAD_ROUNDS)) {
            worker.step_or_park(Some(Duration::from_millis(10)));
        }
        if block >= blocks || seen.borrow().is_some() {
            break;
        }
        if exit_after.is_some_and(|limit| round >= limit) {
            // The test hook: die as a crashed process would, without a word to the others.
            std::process::exit(3);
        }
        let start = block * BLOCK;
        let end = (start + BLOCK).min(keyspace.size());
        if let Some(hit) = search_block(target, keyspace, start, end, &mut hashed) {
            // Sent at this round's time, which then holds every process's frontier here
            // until the find has reached it.
            found.send(hit);
            break;
        }
        found.advance_to(round + 1);
        // Lets the dataflow move records: our progress out, the others' finds in.
        worker.step();
    }
    tried.send((me, hashed));
    drop((found, tried));
    // The dataflow ends once every process has closed its inputs and every record arrived.
    while worker.step_or_park(Some(Duration::from_millis(10))) {}
    let found = seen.borrow_mut().take();
    let counts = std::mem::take(&mut *counts.borrow_mut());
    (found, counts)
}

/// Hashes the candidates `start..end`, counting them; the password if it was among them.
fn search_block(
    target: &Target,
    keyspace: Keyspace,
    start: u64,
    end: u64,
    hashed: &mut u64,
) -> Option<(u64, String)> {
    let mut cursor = Cursor::at(keyspace, start)?;
    for index in start..end {
        *hashed += 1;
        if sha256(cursor.word()) == *target.bytes() {
            return Some((index, String::from_utf8_lossy(cursor.word()).into_owned()));
        }
        cursor.advance();
    }
    None
}

/// One socket per other process, in process order (`None` at this process's own place).
fn connect(
    cluster: &Cluster,
    listener: Option<TcpListener>,
    deadline: Instant,
) -> io::Result<Vec<Option<TcpStream>>> {
    let me = cluster.index;
    let listener = match listener {
        Some(listener) => listener,
        None => TcpListener::bind(&cluster.addresses[me])?,
    };
    let mut sockets: Vec<Option<TcpStream>> = Vec::with_capacity(cluster.addresses.len());
    for address in &cluster.addresses[..me] {
        let mut stream = connect_before(address, deadline)?;
        stream.write_all(&(me as u64).to_le_bytes())?;
        sockets.push(Some(stream));
    }
    sockets.push(None);
    sockets.resize_with(cluster.addresses.len(), || None);
    let mut missing = cluster.addresses.len() - me - 1;
    listener.set_nonblocking(true)?;
    while missing > 0 {
        match listener.accept() {
            Ok((mut stream, _)) => {
                stream.set_nonblocking(false)?;
                stream.set_read_timeout(Some(remaining(deadline)?))?;
                let mut who = [0u8; 8];
                stream.read_exact(&mut who)?;
                stream.set_read_timeout(None)?;
                let who = u64::from_le_bytes(who) as usize;
                let slot = sockets.get_mut(who).filter(|_| who > me);
                let Some(slot @ None) = slot else {
                    return Err(io::Error::other(format!("unexpected peer number {who}")));
                };
                stream.set_nodelay(true)?;
                *slot = Some(stream);
                missing -= 1;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                remaining(deadline)?;
                thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(sockets)
}

/// Connects to `address`, retrying while it refuses (its process may not listen yet).
fn connect_before(address: &str, deadline: Instant) -> io::Result<TcpStream> {
    let target = address
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::other(format!("{address} has no address")))?;
    loop {
        match TcpStream::connect_timeout(&target, remaining(deadline)?) {
            Ok(stream) => {
                stream.set_nodelay(true)?;
                return Ok(stream);
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                remaining(deadline)?;
                thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(e),
        }
    }
}

/// The time left before `deadline`, or a timeout error once it has passed.
fn remaining(deadline: Instant) -> io::Result<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|left| !left.is_zero())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                "the other processes did not all connect in time",
            )
        })
}
