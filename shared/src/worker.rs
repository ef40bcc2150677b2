//! A named thread with initial data, an inbox and a stream of lifecycle events: the Rust
//! answer to Node's `Worker`.
//!
//! | Node.js `worker_threads` | this module |
//! |---|---|
//! | `new Worker(file, { name, workerData })` | [`Worker::spawn(name, data, closure)`](Worker::spawn) |
//! | `worker.postMessage(msg)` | [`worker.post(msg)`](Worker::post) |
//! | `parentPort.on('message', …)` in the worker | [`ctx.recv()`](WorkerContext::recv) in a loop |
//! | `parentPort.postMessage(msg)` in the worker | [`ctx.post(msg)`](WorkerContext::post) |
//! | `worker.on('online' \| 'message' \| 'error' \| 'exit')` | [`Event::Online`], [`Event::Message`], [`Event::Error`], [`Event::Exit`] from [`worker.events()`](Worker::events) |
//! | `worker.terminate()` | [`worker.terminate()`](Worker::terminate), cooperative |
//! | `worker.threadId` | [`worker.thread_id()`](Worker::thread_id) |
//!
//! Three differences from Node matter:
//!
//! - **Terminate is a request.** Node stops the worker's JavaScript wherever it is. Rust cannot
//!   kill a thread, so [`terminate`](Worker::terminate) cancels the worker's
//!   [`CancellationToken`], closes its inbox and waits. A worker blocked in
//!   [`ctx.recv()`](WorkerContext::recv) wakes at once; a worker that computes must check
//!   [`ctx.is_cancelled()`](WorkerContext::is_cancelled) between slices of work.
//! - **Events are a channel, not callbacks.** Read them in a loop, with a timeout, or in
//!   `crossbeam_channel::select!` next to other channels.
//! - **Dropping a `Worker` stops and joins its thread.** Nothing keeps running behind your back.
//!
//! What the event stream promises: [`Event::Online`] comes first; messages arrive in the order
//! the worker posted them; a panic arrives as [`Event::Error`] followed by
//! [`Event::Exit`]`(`[`Exit::Panicked`]`)`; [`Event::Exit`] is always the last event, after
//! which the channel reports "disconnected". Events stay queued until read, even after the
//! thread has ended.
//!
//! ```
//! use shared::worker::{Event, Exit, Worker};
//!
//! // `workerData`: the factor is moved into the thread.
//! let worker = Worker::<u64, u64>::spawn("doubler", 2_u64, |factor, ctx| {
//!     while let Some(n) = ctx.recv() {
//!         ctx.post(n * factor);
//!     }
//! })?;
//! worker.post(21).expect("the worker is running");
//! assert_eq!(worker.recv_event(), Some(Event::Online));
//! assert_eq!(worker.recv_event(), Some(Event::Message(42)));
//! assert_eq!(worker.terminate(), Exit::Cancelled);
//! # Ok::<(), std::io::Error>(())
//! ```

use crate::cancel::CancellationToken;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::any::Any;
use std::convert::Infallible;
use std::fmt;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::thread::{self, JoinHandle, ThreadId};
use std::time::Duration;

/// One thing that happened to a worker: Node's `online`, `message`, `error` and `exit`
/// events as one enum.
///
/// ```
/// use shared::worker::{Event, Exit, Worker};
///
/// let worker = Worker::<(), &str>::spawn("greeter", (), |(), ctx| ctx.post("hello"))?;
/// let events: Vec<_> = worker.events().iter().collect(); // ends after `Exit`
/// assert_eq!(
///     events,
///     [Event::Online, Event::Message("hello"), Event::Exit(Exit::Finished)]
/// );
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<Out> {
    /// The thread has started and is about to run the worker's closure. Always the first event.
    Online,
    /// A message the worker sent with [`WorkerContext::post`].
    Message(Out),
    /// The worker panicked; this is the panic's message. An [`Event::Exit`] follows.
    Error(String),
    /// The worker's closure has ended, and how. Always the last event.
    Exit(Exit),
}

/// How a worker ended: the Rust version of Node's exit code.
///
/// Decided by the worker thread itself when its closure has returned or unwound:
/// a panic gives [`Panicked`](Exit::Panicked) (even after a terminate request); otherwise
/// [`Cancelled`](Exit::Cancelled) if cancellation had been requested by then, else
/// [`Finished`](Exit::Finished). So a worker that happened to finish its last task just as
/// `terminate` was called may report either `Finished` or `Cancelled`: both are true.
///
/// ```
/// use shared::worker::{Exit, Worker};
///
/// let done = Worker::<(), ()>::spawn("done", (), |(), _ctx| {})?;
/// assert_eq!(done.join(), Exit::Finished);
///
/// let failed = Worker::<(), ()>::spawn("failed", (), |(), _ctx| panic!("no input"))?;
/// assert_eq!(failed.join(), Exit::Panicked("no input".to_owned()));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// The closure returned and nobody had asked it to stop.
    Finished,
    /// The closure returned after cancellation was requested (by `terminate`, by dropping the
    /// [`Worker`], or by cancelling its token).
    Cancelled,
    /// The closure panicked with this message.
    Panicked(String),
}

/// [`Worker::post`] failed because the worker no longer reads its inbox: it has ended, or
/// [`Worker::close_inbox`] was called. The undelivered message is handed back, like
/// crossbeam's `SendError`.
///
/// ```
/// use shared::worker::{Event, Worker};
///
/// let worker = Worker::<String, ()>::spawn("short-lived", (), |(), _ctx| {})?;
/// // Wait for the last event: the inbox is closed before `Exit` is sent.
/// while !matches!(worker.recv_event(), Some(Event::Exit(_)) | None) {}
/// let err = worker.post("too late".to_owned()).unwrap_err();
/// assert_eq!(err.into_inner(), "too late");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(PartialEq, Eq, thiserror::Error)]
#[error("the worker's inbox is closed: the message was not delivered")]
pub struct PostError<T>(pub T);

impl<T> PostError<T> {
    /// The message that was not delivered.
    ///
    /// ```
    /// let err = shared::worker::PostError(7);
    /// assert_eq!(err.into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> T {
        self.0
    }
}

// By hand, not derived: a derive would demand `T: Debug`, and `post(..).unwrap()` should work
// for any message type. Crossbeam's `SendError` does the same.
impl<T> fmt::Debug for PostError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PostError(..)")
    }
}

/// [`Worker::terminate_timeout`] gave up: the worker did not end within the timeout after it
/// was asked to stop.
///
/// Its thread **keeps running, detached**: Rust cannot kill a thread, and nobody will join it.
/// It still sees its token cancelled and its inbox closed, so it ends by itself if it ever
/// checks; it only ends with the process otherwise.
///
/// ```
/// use shared::worker::Worker;
/// use std::time::Duration;
///
/// let (release, gate) = crossbeam_channel::bounded::<()>(0);
/// // This worker ignores cancellation: it waits for `gate` only.
/// let stubborn = Worker::<(), ()>::spawn("stubborn", gate, |gate, _ctx| {
///     let _ = gate.recv();
/// })?;
/// let err = stubborn.terminate_timeout(Duration::from_millis(10)).unwrap_err();
/// assert_eq!(err.name(), "stubborn");
/// assert!(err.to_string().contains("detached"));
/// drop(release); // lets the detached thread end
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "worker `{name}` did not stop within {timeout:?} of being cancelled; \
     its thread keeps running detached"
)]
pub struct TerminateTimeout {
    name: String,
    timeout: Duration,
}

impl TerminateTimeout {
    /// The name of the worker that did not stop.
    ///
    /// ```
    /// # use shared::worker::Worker;
    /// # use std::time::Duration;
    /// # let (release, gate) = crossbeam_channel::bounded::<()>(0);
    /// # let w = Worker::<(), ()>::spawn("slow", gate, |gate, _ctx| { let _ = gate.recv(); })?;
    /// let err = w.terminate_timeout(Duration::ZERO).unwrap_err();
    /// assert_eq!(err.name(), "slow");
    /// # drop(release);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How long `terminate_timeout` waited.
    ///
    /// ```
    /// # use shared::worker::Worker;
    /// # use std::time::Duration;
    /// # let (release, gate) = crossbeam_channel::bounded::<()>(0);
    /// # let w = Worker::<(), ()>::spawn("slow", gate, |gate, _ctx| { let _ = gate.recv(); })?;
    /// let err = w.terminate_timeout(Duration::from_millis(5)).unwrap_err();
    /// assert_eq!(err.timeout(), Duration::from_millis(5));
    /// # drop(release);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

/// Why [`WorkerContext::recv_timeout`] returned no message.
///
/// ```
/// use shared::worker::{InboxError, Worker};
/// use std::time::Duration;
///
/// let worker = Worker::<(), InboxError>::spawn("waiter", (), |(), ctx| {
///     if let Err(why) = ctx.recv_timeout(Duration::ZERO) {
///         ctx.post(why);
///     }
/// })?;
/// worker.recv_event(); // Online
/// assert_eq!(
///     worker.recv_event(),
///     Some(shared::worker::Event::Message(InboxError::Timeout))
/// );
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InboxError {
    /// Nothing arrived in time; more may come later.
    #[error("no message arrived within the timeout")]
    Timeout,
    /// The owner closed the inbox (by [`Worker::join`] or [`Worker::close_inbox`]) and every
    /// queued message has been received: nothing more will come.
    #[error("the inbox is closed and empty")]
    Closed,
    /// The worker was asked to stop. Messages still queued are left unread on purpose.
    #[error("the worker was cancelled")]
    Cancelled,
}

/// The owner's handle to a worker thread: post to it, read its events, stop it.
///
/// `In` is the type of messages to the worker, `Out` the type of messages from it.
/// Dropping the handle cancels the worker, closes its inbox and **joins** the thread. A
/// worker that ignores cancellation therefore makes the drop block until it ends, like a
/// scoped thread. That is the honest choice: the alternative, detaching, silently leaves a
/// thread running that nobody can stop or observe. Use
/// [`terminate_timeout`](Self::terminate_timeout) where detaching is acceptable.
///
/// ```
/// use shared::worker::{Event, Worker};
///
/// let worker = Worker::<&str, usize>::spawn("measurer", (), |(), ctx| {
///     while let Some(word) = ctx.recv() {
///         ctx.post(word.len());
///     }
/// })?;
/// worker.post("thread").expect("running");
/// assert_eq!(worker.recv_event(), Some(Event::Online));
/// assert_eq!(worker.recv_event(), Some(Event::Message(6)));
/// drop(worker); // cancels, closes the inbox, joins
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Worker<In, Out> {
    name: String,
    thread_id: ThreadId,
    token: CancellationToken,
    /// `None` once closed: dropping the only `Sender` is what closes a crossbeam channel.
    inbox: Option<Sender<In>>,
    /// Unbounded on purpose. A bounded channel would give backpressure, but a worker blocked
    /// on a full channel can never end, so an owner waiting in `terminate`, `join` or `drop`
    /// would wait forever: a deadlock. Unbounded is also what Node does. Its cost is memory
    /// if the owner never reads; read events, or send fewer.
    events: Receiver<Event<Out>>,
    /// Never carries a message: it disconnects when the thread's closure has completely ended,
    /// which gives `terminate_timeout` a timed join that std's `JoinHandle` lacks.
    ended: Receiver<Infallible>,
    /// Taken only by the methods that consume the worker (`terminate*`, `join`) and by `drop`.
    handle: Option<JoinHandle<Exit>>,
}

/// What the worker's closure gets besides its initial data: its inbox, its way to post
/// events, its cancellation token and its name (Node's `parentPort`, `threadId` and friends).
///
/// The closure receives it by reference, so nothing can keep it beyond the closure: every
/// message is posted before `Exit`. It is `Sync`, so scoped threads inside the worker may
/// share it.
///
/// ```
/// use shared::worker::{Event, Worker};
///
/// let worker = Worker::<u32, String>::spawn("reporter", (), |(), ctx| {
///     while let Some(n) = ctx.recv() {
///         ctx.post(format!("{} got {n}", ctx.name()));
///     }
/// })?;
/// worker.post(1).expect("running");
/// worker.recv_event(); // Online
/// assert_eq!(
///     worker.recv_event(),
///     Some(Event::Message("reporter got 1".to_owned()))
/// );
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct WorkerContext<In, Out> {
    name: String,
    token: CancellationToken,
    inbox: Receiver<In>,
    events: Sender<Event<Out>>,
}

impl<In, Out> Worker<In, Out>
where
    In: Send + 'static,
    Out: Send + 'static,
{
    /// Starts a thread called `name` that runs `work(data, &context)`: Node's
    /// `new Worker(file, { name, workerData })`.
    ///
    /// `data` is moved into the thread, so it needs no copying or `Arc`. Returns the
    /// operating system's error if the thread cannot be created, and an
    /// [`InvalidInput`](io::ErrorKind::InvalidInput) error for a name containing a NUL byte
    /// (which std would otherwise panic on).
    ///
    /// ```
    /// use shared::worker::{Event, Exit, Worker};
    ///
    /// let numbers = vec![1, 2, 3];
    /// let worker = Worker::<(), i32>::spawn("summer", numbers, |numbers, ctx| {
    ///     ctx.post(numbers.iter().sum());
    /// })?;
    /// assert_eq!(worker.recv_event(), Some(Event::Online));
    /// assert_eq!(worker.recv_event(), Some(Event::Message(6)));
    /// assert_eq!(worker.join(), Exit::Finished);
    ///
    /// let bad_name = Worker::<(), ()>::spawn("nul\0", (), |(), _ctx| {});
    /// assert_eq!(bad_name.unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn<D, F>(name: impl Into<String>, data: D, work: F) -> io::Result<Self>
    where
        D: Send + 'static,
        F: FnOnce(D, &WorkerContext<In, Out>) + Send + 'static,
    {
        let name = name.into();
        if name.contains('\0') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("worker name {name:?} contains a NUL byte"),
            ));
        }
        let token = CancellationToken::new();
        let (inbox_tx, inbox_rx) = crossbeam_channel::unbounded();
        let (events_tx, events_rx) = crossbeam_channel::unbounded();
        let (ended_tx, ended_rx) = crossbeam_channel::bounded::<Infallible>(0);
        let ctx = WorkerContext {
            name: name.clone(),
            token: token.clone(),
            inbox: inbox_rx,
            events: events_tx,
        };
        let handle = thread::Builder::new().name(name.clone()).spawn(move || {
            // Declared first, so dropped last: `ended` disconnects only once everything
            // below is done, also if something below panics.
            let _ended = ended_tx;
            run(ctx, data, work)
        })?;
        Ok(Self {
            name,
            thread_id: handle.thread().id(),
            token,
            inbox: Some(inbox_tx),
            events: events_rx,
            ended: ended_rx,
            handle: Some(handle),
        })
    }

    /// Sends a message to the worker's inbox: Node's `worker.postMessage`. Never blocks.
    ///
    /// Fails, handing the message back, once the worker no longer reads its inbox: it has
    /// ended, or [`close_inbox`](Self::close_inbox) was called. A message accepted just before
    /// the worker ends may still go unread, as in Node.
    ///
    /// ```
    /// use shared::worker::{Event, Worker};
    ///
    /// let worker = Worker::<char, char>::spawn("upper", (), |(), ctx| {
    ///     while let Some(c) = ctx.recv() {
    ///         ctx.post(c.to_ascii_uppercase());
    ///     }
    /// })?;
    /// worker.post('a').expect("running");
    /// worker.post('b').expect("running");
    /// let replies: Vec<_> = worker.events().iter().skip(1).take(2).collect();
    /// assert_eq!(replies, [Event::Message('A'), Event::Message('B')]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn post(&self, msg: In) -> Result<(), PostError<In>> {
        match &self.inbox {
            Some(inbox) => inbox.send(msg).map_err(|err| PostError(err.into_inner())),
            None => Err(PostError(msg)),
        }
    }

    /// The worker's events, for loops, timeouts and `crossbeam_channel::select!`.
    ///
    /// Clone the receiver to keep reading after the `Worker` is consumed by
    /// [`terminate`](Self::terminate) or [`join`](Self::join): queued events are kept until
    /// read, and the channel disconnects after [`Event::Exit`].
    ///
    /// ```
    /// use crossbeam_channel::select;
    /// use shared::worker::{Event, Exit, Worker};
    ///
    /// let worker = Worker::<(), u8>::spawn("ticker", (), |(), ctx| ctx.post(1))?;
    /// let (_other_tx, other) = crossbeam_channel::unbounded::<()>();
    /// let mut seen = Vec::new();
    /// loop {
    ///     select! {
    ///         recv(worker.events()) -> event => match event {
    ///             Ok(Event::Exit(exit)) => { assert_eq!(exit, Exit::Finished); break; }
    ///             Ok(event) => seen.push(event),
    ///             Err(_) => break, // disconnected: cannot happen before `Exit`
    ///         },
    ///         recv(other) -> _ => unreachable!("nobody sends on it"),
    ///     }
    /// }
    /// assert_eq!(seen, [Event::Online, Event::Message(1)]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn events(&self) -> &Receiver<Event<Out>> {
        &self.events
    }

    /// Waits for the next event; `None` once [`Event::Exit`] has been received and the
    /// channel is empty, so it never blocks after the end.
    ///
    /// ```
    /// use shared::worker::{Event, Exit, Worker};
    ///
    /// let worker = Worker::<(), ()>::spawn("quick", (), |(), _ctx| {})?;
    /// assert_eq!(worker.recv_event(), Some(Event::Online));
    /// assert_eq!(worker.recv_event(), Some(Event::Exit(Exit::Finished)));
    /// assert_eq!(worker.recv_event(), None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn recv_event(&self) -> Option<Event<Out>> {
        self.events.recv().ok()
    }

    /// Waits at most `timeout` for the next event. `Disconnected` means the worker has ended
    /// and every event, `Exit` included, has been received.
    ///
    /// ```
    /// use crossbeam_channel::RecvTimeoutError;
    /// use shared::worker::{Event, Worker};
    /// use std::time::Duration;
    ///
    /// let worker = Worker::<(), ()>::spawn("idle", (), |(), ctx| while ctx.recv().is_some() {})?;
    /// assert_eq!(worker.recv_event_timeout(Duration::from_secs(10)), Ok(Event::Online));
    /// assert_eq!(
    ///     worker.recv_event_timeout(Duration::from_millis(1)),
    ///     Err(RecvTimeoutError::Timeout)
    /// );
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn recv_event_timeout(&self, timeout: Duration) -> Result<Event<Out>, RecvTimeoutError> {
        self.events.recv_timeout(timeout)
    }

    /// The name given to [`spawn`](Self::spawn), which is also the thread's name (shown in
    /// panic messages and debuggers).
    ///
    /// ```
    /// let w = shared::worker::Worker::<(), ()>::spawn("resizer-1", (), |(), _ctx| {})?;
    /// assert_eq!(w.name(), "resizer-1");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The worker thread's id: Node's `worker.threadId`.
    ///
    /// ```
    /// let w = shared::worker::Worker::<(), ()>::spawn("other", (), |(), _ctx| {})?;
    /// assert_ne!(w.thread_id(), std::thread::current().id());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn thread_id(&self) -> ThreadId {
        self.thread_id
    }

    /// Whether the thread has ended, so that [`join`](Self::join) would not block.
    ///
    /// ```
    /// use shared::worker::{Event, Worker};
    ///
    /// let w = Worker::<(), ()>::spawn("waits", (), |(), ctx| while ctx.recv().is_some() {})?;
    /// assert!(!w.is_finished()); // it cannot end while its inbox is open
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_finished(&self) -> bool {
        self.handle.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Closes the inbox without cancelling: the worker still receives every message already
    /// queued, then [`ctx.recv()`](WorkerContext::recv) returns `None`. Later
    /// [`post`](Self::post) calls fail. The graceful "no more work is coming".
    ///
    /// ```
    /// use shared::worker::{Event, Exit, Worker};
    ///
    /// let mut w = Worker::<u8, u8>::spawn("drainer", (), |(), ctx| {
    ///     while let Some(n) = ctx.recv() {
    ///         ctx.post(n);
    ///     }
    /// })?;
    /// w.post(1).expect("running");
    /// w.close_inbox();
    /// assert!(w.post(2).is_err());
    /// let events: Vec<_> = w.events().iter().collect();
    /// assert_eq!(events, [Event::Online, Event::Message(1), Event::Exit(Exit::Finished)]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn close_inbox(&mut self) {
        self.inbox = None;
    }

    /// Asks the worker to stop and waits until it has: Node's `worker.terminate()`, but
    /// cooperative.
    ///
    /// Cancels the token, closes the inbox (so a worker blocked in `ctx.recv()` wakes at
    /// once), then joins. Blocks for as long as the worker ignores the request; use
    /// [`terminate_timeout`](Self::terminate_timeout) to bound the wait.
    ///
    /// ```
    /// use shared::worker::{Exit, Worker};
    ///
    /// let w = Worker::<(), ()>::spawn("server", (), |(), ctx| {
    ///     while let Some(()) = ctx.recv() {}
    /// })?;
    /// assert_eq!(w.terminate(), Exit::Cancelled);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn terminate(mut self) -> Exit {
        self.request_stop();
        self.join_thread()
    }

    /// Like [`terminate`](Self::terminate), but gives up after `timeout`.
    ///
    /// On timeout the worker's thread **keeps running, detached**, because Rust cannot kill a
    /// thread; the error names the worker. The thread still has its token cancelled and its
    /// inbox closed, so it ends as soon as it checks either.
    ///
    /// ```
    /// use shared::worker::{Exit, Worker};
    /// use std::time::Duration;
    ///
    /// let w = Worker::<(), ()>::spawn("polite", (), |(), ctx| {
    ///     while !ctx.is_cancelled() {
    ///         std::hint::spin_loop(); // a slice of work
    ///     }
    /// })?;
    /// assert_eq!(w.terminate_timeout(Duration::from_secs(10)), Ok(Exit::Cancelled));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn terminate_timeout(mut self, timeout: Duration) -> Result<Exit, TerminateTimeout> {
        self.request_stop();
        // `ended` never carries a message (`Infallible`), so there is no `Ok` arm.
        match self.ended.recv_timeout(timeout) {
            Err(RecvTimeoutError::Disconnected) => Ok(self.join_thread()),
            Err(RecvTimeoutError::Timeout) => {
                // Dropping a `JoinHandle` detaches the thread; `drop(self)` must not join it.
                self.handle = None;
                Err(TerminateTimeout {
                    name: self.name.clone(),
                    timeout,
                })
            }
        }
    }

    /// Waits for a worker that ends by itself, and says how it ended.
    ///
    /// Closes the inbox first (nobody can post once the `Worker` is consumed, so a worker
    /// looping on `ctx.recv()` would otherwise wait forever), but does not cancel: queued
    /// messages are still received. Blocks until the worker ends.
    ///
    /// ```
    /// use shared::worker::{Exit, Worker};
    ///
    /// let w = Worker::<(), ()>::spawn("oops", (), |(), _ctx| {
    ///     let empty: Vec<u8> = Vec::new();
    ///     let _ = empty[0]; // out of bounds: panics
    /// })?;
    /// assert!(matches!(w.join(), Exit::Panicked(msg) if msg.contains("out of bounds")));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn join(mut self) -> Exit {
        self.close_inbox();
        self.join_thread()
    }
}

impl<In, Out> Worker<In, Out> {
    /// Cancel first, close second: a worker woken by the closed inbox then always sees the
    /// cancellation, so it reports `Exit::Cancelled` rather than `Finished`.
    fn request_stop(&mut self) {
        self.token.cancel();
        self.inbox = None;
    }

    fn join_thread(&mut self) -> Exit {
        match self.handle.take() {
            Some(handle) => match handle.join() {
                Ok(exit) => exit,
                // `run` catches the closure's panic, so this is a panic outside it, e.g. in
                // the panic payload's own `Drop`.
                Err(payload) => Exit::Panicked(panic_message(payload.as_ref())),
            },
            // Unreachable: the handle is taken only here and in `terminate_timeout`, and each
            // caller consumes the worker. An answer instead of a panic keeps this path
            // panic-free.
            None => Exit::Cancelled,
        }
    }
}

impl<In, Out> Drop for Worker<In, Out> {
    fn drop(&mut self) {
        self.request_stop();
        if let Some(handle) = self.handle.take() {
            // How it ended is nobody's business any more, and a drop must not panic.
            let _ = handle.join();
        }
    }
}

impl<In, Out> fmt::Debug for Worker<In, Out> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker")
            .field("name", &self.name)
            .field("thread_id", &self.thread_id)
            .field("inbox_open", &self.inbox.is_some())
            .field("cancelled", &self.token.is_cancelled())
            .finish_non_exhaustive()
    }
}

/// The worker thread's whole life: `Online`, the closure, then `Error?` and `Exit`.
fn run<D, In, Out, F>(ctx: WorkerContext<In, Out>, data: D, work: F) -> Exit
where
    F: FnOnce(D, &WorkerContext<In, Out>),
{
    // Sends cannot fail while anyone can read: the `Worker` holds the receiver until it has
    // joined this thread. After a detaching `terminate_timeout` nobody may be listening, and
    // dropping the event is then right. The same holds for every `let _ = send` below.
    let _ = ctx.events.send(Event::Online);

    // `AssertUnwindSafe`: after a panic nothing the closure could have left half-updated is
    // used again. `data` and the closure's captures are dropped by the unwind, and `ctx` only
    // holds channels and a token, which a panic cannot corrupt.
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| work(data, &ctx)));

    let WorkerContext {
        token,
        inbox,
        events,
        ..
    } = ctx;
    // Close the inbox before the last event: an owner that has seen `Exit` gets its `post`
    // refused, instead of a message silently queued for nobody.
    drop(inbox);
    let exit = match outcome {
        Err(payload) => {
            let message = panic_message(payload.as_ref());
            let _ = events.send(Event::Error(message.clone()));
            Exit::Panicked(message)
        }
        Ok(()) if token.is_cancelled() => Exit::Cancelled,
        Ok(()) => Exit::Finished,
    };
    let _ = events.send(Event::Exit(exit.clone()));
    exit
    // `events` is dropped here, so the owner's receiver disconnects right after `Exit`.
}

/// The message of a panic payload: `panic!("literal")` carries a `&'static str`,
/// `panic!("{x}")` a `String`; other payloads (from `std::panic::panic_any`) have none.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<a panic payload that is not a string>".to_owned()
    }
}

impl<In, Out> WorkerContext<In, Out> {
    /// Waits for the next message: `parentPort.on('message')` as a loop.
    ///
    /// `None` once the worker is cancelled (even if messages are still queued: stop wins) or
    /// the inbox is closed and empty, so `while let Some(msg) = ctx.recv()` ends on
    /// `terminate`, `join` and drop. `terminate` closes the inbox, which wakes a blocked
    /// `recv` at once. Cancelling a clone of the token from elsewhere is seen only on the next
    /// call; `recv` does not poll for it.
    ///
    /// ```
    /// use shared::worker::{Exit, Worker};
    ///
    /// let w = Worker::<u32, u32>::spawn("sum", (), |(), ctx| {
    ///     let mut sum = 0;
    ///     while let Some(n) = ctx.recv() {
    ///         sum += n;
    ///     }
    ///     ctx.post(sum);
    /// })?;
    /// for n in 1..=4 {
    ///     w.post(n).expect("running");
    /// }
    /// let events = w.events().clone();
    /// assert_eq!(w.join(), Exit::Finished); // closes the inbox: the loop ends
    /// assert!(events.iter().any(|e| e == shared::worker::Event::Message(10)));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn recv(&self) -> Option<In> {
        if self.is_cancelled() {
            return None;
        }
        self.inbox.recv().ok()
    }

    /// Like [`recv`](Self::recv), but waits at most `timeout` and says why nothing came.
    ///
    /// ```
    /// use shared::worker::{Event, InboxError, Worker};
    /// use std::time::Duration;
    ///
    /// let w = Worker::<(), Result<(), InboxError>>::spawn("patient", (), |(), ctx| {
    ///     ctx.post(ctx.recv_timeout(Duration::from_millis(1)));
    /// })?;
    /// let events: Vec<_> = w.events().iter().collect();
    /// assert_eq!(events[1], Event::Message(Err(InboxError::Timeout)));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn recv_timeout(&self, timeout: Duration) -> Result<In, InboxError> {
        if self.is_cancelled() {
            return Err(InboxError::Cancelled);
        }
        match self.inbox.recv_timeout(timeout) {
            Ok(msg) => Ok(msg),
            Err(RecvTimeoutError::Timeout) => Err(InboxError::Timeout),
            // `terminate` cancels before it closes, so this tells the two apart.
            Err(RecvTimeoutError::Disconnected) if self.is_cancelled() => {
                Err(InboxError::Cancelled)
            }
            Err(RecvTimeoutError::Disconnected) => Err(InboxError::Closed),
        }
    }

    /// The raw inbox, for `crossbeam_channel::select!` over it and other channels. It
    /// disconnects when the owner closes the inbox, which `terminate` does; unlike
    /// [`recv`](Self::recv) it does not check cancellation itself.
    ///
    /// ```
    /// use crossbeam_channel::{after, select};
    /// use shared::worker::{Event, Worker};
    /// use std::time::Duration;
    ///
    /// let w = Worker::<u8, &str>::spawn("selector", (), |(), ctx| {
    ///     select! {
    ///         recv(ctx.inbox()) -> _ => ctx.post("message"),
    ///         recv(after(Duration::from_millis(1))) -> _ => ctx.post("tick"),
    ///     }
    /// })?;
    /// let events: Vec<_> = w.events().iter().collect();
    /// assert_eq!(events[1], Event::Message("tick"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn inbox(&self) -> &Receiver<In> {
        &self.inbox
    }

    /// Sends a message to the owner as [`Event::Message`]: `parentPort.postMessage`.
    ///
    /// Never blocks (the event channel is unbounded). If nobody listens any more (the owner
    /// gave up in `terminate_timeout`), the message is dropped.
    ///
    /// ```
    /// use shared::worker::{Event, Worker};
    ///
    /// let w = Worker::<(), u64>::spawn("squares", (), |(), ctx| {
    ///     for n in 1..=3 {
    ///         ctx.post(n * n);
    ///     }
    /// })?;
    /// let squares: Vec<_> = w
    ///     .events()
    ///     .iter()
    ///     .filter_map(|e| match e {
    ///         Event::Message(n) => Some(n),
    ///         _ => None,
    ///     })
    ///     .collect();
    /// assert_eq!(squares, [1, 4, 9]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn post(&self, msg: Out) {
        let _ = self.events.send(Event::Message(msg));
    }

    /// The worker's cancellation token, to hand to cancellable computations or threads the
    /// worker starts.
    ///
    /// ```
    /// use shared::worker::{Exit, Worker};
    /// use std::time::Duration;
    ///
    /// let w = Worker::<(), ()>::spawn("napper", (), |(), ctx| {
    ///     // Pauses until `terminate`, not for a fixed time.
    ///     ctx.token().wait_timeout(Duration::from_secs(60));
    /// })?;
    /// assert_eq!(w.terminate(), Exit::Cancelled);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// Whether the owner asked the worker to stop. Check it between slices of CPU work.
    ///
    /// ```
    /// use shared::worker::{Exit, Worker};
    ///
    /// let w = Worker::<(), ()>::spawn("counter", (), |(), ctx| {
    ///     let mut n = 0u64;
    ///     while !ctx.is_cancelled() {
    ///         n = n.wrapping_add(1);
    ///     }
    /// })?;
    /// assert_eq!(w.terminate(), Exit::Cancelled);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }

    /// The worker's name, the same as its thread's.
    ///
    /// ```
    /// use shared::worker::{Event, Worker};
    ///
    /// let w = Worker::<(), String>::spawn("named", (), |(), ctx| ctx.post(ctx.name().into()))?;
    /// let events: Vec<_> = w.events().iter().collect();
    /// assert_eq!(events[1], Event::Message("named".to_owned()));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl<In, Out> fmt::Debug for WorkerContext<In, Out> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerContext")
            .field("name", &self.name)
            .field("cancelled", &self.token.is_cancelled())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TIMEOUT, recv_or_fail, recv_within, run_within};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Instant;

    /// Runs a call that may block (`terminate`, `join`, `drop`) on a helper thread, so that a
    /// hang fails the test after [`TIMEOUT`] instead of stalling it.
    fn drain<Out: fmt::Debug>(events: &Receiver<Event<Out>>) -> Vec<Event<Out>> {
        let mut all = Vec::new();
        loop {
            match events.recv_timeout(TIMEOUT) {
                Ok(event) => all.push(event),
                Err(RecvTimeoutError::Disconnected) => return all,
                Err(RecvTimeoutError::Timeout) => panic!("no Exit after {all:?}"),
            }
        }
    }

    fn echo(name: &str) -> Worker<u32, u32> {
        Worker::spawn(name, (), |(), ctx| {
            while let Some(n) = ctx.recv() {
                ctx.post(n);
            }
        })
        .expect("spawn")
    }

    #[test]
    fn online_first_then_messages_then_exit_last_even_after_the_thread_ended() {
        let worker = Worker::<(), u32>::spawn("poster", (), |(), ctx| {
            for n in 0..3 {
                ctx.post(n);
            }
        })
        .expect("spawn");
        let events = worker.events().clone();
        assert_eq!(
            run_within(TIMEOUT, "join", move || worker.join()),
            Exit::Finished
        );
        // The thread has been joined: every event is still there, and nothing follows Exit.
        assert_eq!(
            drain(&events),
            [
                Event::Online,
                Event::Message(0),
                Event::Message(1),
                Event::Message(2),
                Event::Exit(Exit::Finished),
            ]
        );
    }

    #[test]
    fn initial_data_is_moved_in_and_order_is_preserved_both_ways() {
        let worker = Worker::<u32, u32>::spawn("offset", 1000_u32, |offset, ctx| {
            while let Some(n) = ctx.recv() {
                ctx.post(offset + n);
            }
        })
        .expect("spawn");
        for n in 0..200 {
            worker.post(n).expect("the worker is running");
        }
        assert_eq!(recv_or_fail(worker.events(), "online"), Event::Online);
        for n in 0..200 {
            assert_eq!(
                recv_or_fail(worker.events(), "a reply"),
                Event::Message(1000 + n)
            );
        }
        assert_eq!(
            run_within(TIMEOUT, "join", move || worker.join()),
            Exit::Finished
        );
    }

    #[test]
    fn a_panic_arrives_as_error_then_exit_panicked() {
        let worker = Worker::<(), ()>::spawn("panicker", 7, |n, _ctx| panic!("bad input {n}"))
            .expect("spawn");
        let message = "bad input 7".to_owned();
        assert_eq!(
            drain(worker.events()),
            [
                Event::Online,
                Event::Error(message.clone()),
                Event::Exit(Exit::Panicked(message.clone())),
            ]
        );
        assert_eq!(
            run_within(TIMEOUT, "join", move || worker.join()),
            Exit::Panicked(message)
        );
    }

    #[test]
    fn a_panic_without_a_string_payload_still_reports_an_error() {
        let worker = Worker::<(), ()>::spawn("odd-panic", (), |(), _ctx| panic::panic_any(42_u8))
            .expect("spawn");
        match run_within(TIMEOUT, "join", move || worker.join()) {
            Exit::Panicked(message) => assert!(message.contains("not a string"), "{message}"),
            other => panic!("expected a panic, got {other:?}"),
        }
    }

    #[test]
    fn a_panic_after_terminate_is_still_a_panic() {
        let worker = Worker::<(), ()>::spawn("panics-on-stop", (), |(), ctx| {
            while ctx.recv().is_some() {}
            panic!("cleanup failed");
        })
        .expect("spawn");
        assert_eq!(
            run_within(TIMEOUT, "terminate", move || worker.terminate()),
            Exit::Panicked("cleanup failed".to_owned())
        );
    }

    #[test]
    fn terminate_wakes_a_worker_blocked_in_recv() {
        let worker = echo("blocked");
        worker.post(1).expect("running");
        assert_eq!(recv_or_fail(worker.events(), "online"), Event::Online);
        // The echo proves the worker is inside its `recv` loop.
        assert_eq!(recv_or_fail(worker.events(), "the echo"), Event::Message(1));
        let events = worker.events().clone();
        assert_eq!(
            run_within(TIMEOUT, "terminate", move || worker.terminate()),
            Exit::Cancelled
        );
        assert_eq!(drain(&events), [Event::Exit(Exit::Cancelled)]);
    }

    #[test]
    fn terminate_timeout_returns_the_exit_of_a_cooperative_worker() {
        let worker = echo("cooperative");
        assert_eq!(recv_or_fail(worker.events(), "online"), Event::Online);
        assert_eq!(worker.terminate_timeout(TIMEOUT), Ok(Exit::Cancelled));
    }

    #[test]
    fn cancellation_wins_over_queued_messages() {
        let worker = Worker::<u32, Result<u32, InboxError>>::spawn("late", (), |(), ctx| {
            // Read nothing until asked to stop, so that every message below is queued.
            ctx.token().wait_timeout(TIMEOUT);
            ctx.post(ctx.recv_timeout(TIMEOUT));
            while let Some(n) = ctx.recv() {
                ctx.post(Ok(n));
            }
        })
        .expect("spawn");
        for n in 0..3 {
            worker.post(n).expect("running");
        }
        let events = worker.events().clone();
        assert_eq!(worker.terminate_timeout(TIMEOUT), Ok(Exit::Cancelled));
        assert_eq!(
            drain(&events),
            [
                Event::Online,
                Event::Message(Err(InboxError::Cancelled)),
                Event::Exit(Exit::Cancelled),
            ]
        );
    }

    #[test]
    fn terminate_timeout_on_a_worker_that_ignores_cancellation_detaches_it() {
        let (release, gate) = crossbeam_channel::bounded::<()>(0);
        let worker = Worker::<(), ()>::spawn("stubborn", gate, |gate, _ctx| {
            // Ignores its token and inbox: ends only when the test drops `release`.
            let _ = gate.recv();
        })
        .expect("spawn");
        let events = worker.events().clone();
        let err = worker
            .terminate_timeout(Duration::from_millis(20))
            .expect_err("the worker cannot end before `release` is dropped");
        assert_eq!(err.name(), "stubborn");
        assert_eq!(err.timeout(), Duration::from_millis(20));
        let text = err.to_string();
        assert!(
            text.contains("`stubborn`") && text.contains("detached"),
            "{text}"
        );
        // Let the detached thread end, and see that it did: nothing leaks past this test.
        drop(release);
        assert_eq!(
            drain(&events),
            [Event::Online, Event::Exit(Exit::Cancelled)]
        );
    }

    #[test]
    fn drop_cancels_and_joins() {
        let ended = Arc::new(AtomicBool::new(false));
        let worker = Worker::<(), ()>::spawn("dropped", Arc::clone(&ended), |ended, ctx| {
            while ctx.recv().is_some() {}
            ended.store(true, Ordering::SeqCst);
        })
        .expect("spawn");
        assert_eq!(recv_or_fail(worker.events(), "online"), Event::Online);
        assert!(
            !ended.load(Ordering::SeqCst),
            "it cannot end before the drop"
        );
        run_within(TIMEOUT, "drop", move || drop(worker));
        assert!(
            ended.load(Ordering::SeqCst),
            "drop returned before the thread ended"
        );
    }

    #[test]
    fn post_after_the_worker_ended_hands_the_message_back() {
        let worker = Worker::<String, ()>::spawn("gone", (), |(), _ctx| {}).expect("spawn");
        assert_eq!(recv_or_fail(worker.events(), "online"), Event::Online);
        assert_eq!(
            recv_or_fail(worker.events(), "exit"),
            Event::Exit(Exit::Finished)
        );
        let err = worker
            .post("hello".to_owned())
            .expect_err("the worker has ended");
        assert_eq!(err.into_inner(), "hello");
        // The owner may still use the worker after its thread ended.
        assert_eq!(
            worker.recv_event_timeout(TIMEOUT),
            Err(RecvTimeoutError::Disconnected)
        );
        assert_eq!(worker.recv_event(), None);
    }

    #[test]
    fn close_inbox_lets_the_worker_drain_then_finish() {
        let mut worker = Worker::<u32, Result<u32, InboxError>>::spawn("drain", (), |(), ctx| {
            ctx.post(ctx.recv_timeout(Duration::ZERO)); // nothing sent yet: Timeout
            loop {
                let next = ctx.recv_timeout(TIMEOUT);
                ctx.post(next);
                if next.is_err() {
                    break;
                }
            }
        })
        .expect("spawn");
        assert_eq!(recv_or_fail(worker.events(), "online"), Event::Online);
        assert_eq!(
            recv_or_fail(worker.events(), "the first try"),
            Event::Message(Err(InboxError::Timeout))
        );
        worker.post(5).expect("running");
        worker.close_inbox();
        assert_eq!(worker.post(6).map_err(PostError::into_inner), Err(6));
        assert_eq!(
            drain(worker.events()),
            [
                Event::Message(Ok(5)),
                Event::Message(Err(InboxError::Closed)),
                Event::Exit(Exit::Finished),
            ]
        );
    }

    #[test]
    fn the_thread_has_the_given_name_and_its_own_id() {
        let worker = Worker::<(), (Option<String>, ThreadId, String)>::spawn(
            "named-worker",
            (),
            |(), ctx| {
                let me = thread::current();
                ctx.post((me.name().map(str::to_owned), me.id(), ctx.name().to_owned()));
            },
        )
        .expect("spawn");
        assert_eq!(worker.name(), "named-worker");
        assert_eq!(recv_or_fail(worker.events(), "online"), Event::Online);
        let Event::Message((name, id, ctx_name)) = recv_or_fail(worker.events(), "its identity")
        else {
            panic!("expected a message");
        };
        assert_eq!(name.as_deref(), Some("named-worker"));
        assert_eq!(ctx_name, "named-worker");
        assert_eq!(id, worker.thread_id());
        assert_ne!(id, thread::current().id());
    }

    #[test]
    fn a_name_with_a_nul_byte_is_an_error_not_a_panic() {
        let err = Worker::<(), ()>::spawn("bad\0name", (), |(), _ctx| {}).expect_err("NUL");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn is_finished_turns_true_once_the_thread_ended() {
        let mut worker = echo("finishing");
        assert_eq!(recv_or_fail(worker.events(), "online"), Event::Online);
        assert!(
            !worker.is_finished(),
            "it cannot end while its inbox is open"
        );
        worker.close_inbox();
        assert_eq!(
            recv_or_fail(worker.events(), "exit"),
            Event::Exit(Exit::Finished)
        );
        // `Exit` is sent just before the thread returns: allow it that last step, with a
        // deadline that only turns a hang into a failure.
        let deadline = Instant::now() + TIMEOUT;
        while !worker.is_finished() {
            assert!(
                Instant::now() < deadline,
                "the thread did not end after Exit"
            );
            thread::yield_now();
        }
    }

    #[test]
    fn events_work_in_select_next_to_other_channels() {
        let worker = echo("selected");
        let (tick_tx, ticks) = crossbeam_channel::unbounded::<()>();
        tick_tx.send(()).expect("ticks is alive");
        worker.post(9).expect("running");
        let (mut saw_tick, mut saw_echo) = (false, false);
        while !(saw_tick && saw_echo) {
            crossbeam_channel::select! {
                recv(worker.events()) -> event => match event {
                    Ok(Event::Message(n)) => { assert_eq!(n, 9); saw_echo = true; }
                    Ok(event) => assert_eq!(event, Event::Online),
                    Err(_) => panic!("the worker ended early"),
                },
                recv(ticks) -> tick => { tick.expect("tick_tx is alive"); saw_tick = true; },
                default(TIMEOUT) => panic!("nothing arrived"),
            }
        }
        assert_eq!(worker.terminate_timeout(TIMEOUT), Ok(Exit::Cancelled));
    }

    #[test]
    fn scoped_threads_inside_a_worker_share_its_context() {
        let worker = Worker::<(), usize>::spawn("fan-out", (), |(), ctx| {
            thread::scope(|s| {
                for i in 0..4 {
                    s.spawn(move || ctx.post(i));
                }
            });
        })
        .expect("spawn");
        let mut events = drain(worker.events());
        assert_eq!(events.remove(0), Event::Online);
        assert_eq!(events.pop(), Some(Event::Exit(Exit::Finished)));
        events.sort_by_key(|e| match e {
            Event::Message(i) => *i,
            _ => usize::MAX,
        });
        let expected: Vec<_> = (0..4).map(Event::Message).collect();
        assert_eq!(events, expected);
    }

    #[test]
    fn terminate_and_join_block_until_the_end_and_report_it() {
        let worker = echo("term");
        assert_eq!(
            run_within(TIMEOUT, "terminate", move || worker.terminate()),
            Exit::Cancelled
        );
        let worker = echo("joined");
        worker.post(3).expect("running");
        let events = worker.events().clone();
        assert_eq!(
            run_within(TIMEOUT, "join", move || worker.join()),
            Exit::Finished
        );
        assert_eq!(recv_within(&events, TIMEOUT, "online"), Event::Online);
        assert_eq!(
            recv_or_fail(&events, "the echo of a queued message"),
            Event::Message(3)
        );
    }
}
