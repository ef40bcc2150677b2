//! Two connected two-way ports: the Rust answer to `new MessageChannel()`.
//!
//! In Node, `const { port1, port2 } = new MessageChannel()` gives two `MessagePort`s: what
//! `port1.postMessage(x)` sends, `port2` receives, and the other way round. To hand a port to a
//! worker, Node lists it in `transferList`, after which the sending side's copy is unusable.
//!
//! Here [`MessageChannel::new`] gives the same two ports, made from two crossbeam channels, one
//! per direction. Each direction has its own message type: `port1` sends `A` and receives `B`,
//! `port2` sends `B` and receives `A` (with `B = A` by default). A port is `Send` when its
//! message types are, so it can be moved into a thread, and **the move is the transfer**: the
//! compiler rejects any later use of the moved port, which Node can only check at run time.
//!
//! ```
//! use shared::channel::MessageChannel;
//! use std::thread;
//!
//! #[derive(Debug, PartialEq)]
//! enum Command { Add(i64), Total }
//!
//! let MessageChannel { port1, port2 } = MessageChannel::<Command, i64>::new();
//! let accumulator = thread::spawn(move || {
//!     let mut total = 0;
//!     for command in &port2 {
//!         match command {
//!             Command::Add(n) => total += n,
//!             Command::Total => port2.send(total).unwrap(),
//!         }
//!     }
//! });
//! port1.send(Command::Add(40)).unwrap();
//! port1.send(Command::Add(2)).unwrap();
//! port1.send(Command::Total).unwrap();
//! assert_eq!(port1.recv(), Ok(42));
//! drop(port1); // `port.close()`: the loop over `&port2` ends
//! accumulator.join().unwrap();
//! ```
//!
//! Using a port after moving it into a thread does not compile:
//!
//! ```compile_fail,E0382
//! use shared::channel::MessageChannel;
//!
//! let MessageChannel { port1, port2 } = MessageChannel::<u8>::new();
//! std::thread::spawn(move || port2.recv());
//! port2.send(1); // error[E0382]: borrow of moved value: `port2`
//! # drop(port1);
//! ```
//!
//! # Unbounded or bounded
//!
//! [`MessageChannel::new`] is unbounded, like Node's ports: `send` never waits, and a receiver
//! that falls behind lets its queue grow without limit. That is the simple default for
//! messages that are few or small. [`MessageChannel::bounded`] caps each direction's queue:
//! `send` then waits while the queue is full, which slows a fast producer down to its
//! consumer's pace (*backpressure*), something Node's ports cannot do at all.

use crossbeam_channel::{
    Iter, Receiver, RecvError, RecvTimeoutError, SendError, SendTimeoutError, Sender, TryRecvError,
};
use std::fmt;
use std::time::Duration;

/// Two connected ports: what `port1` sends, `port2` receives, and vice versa.
///
/// `port1` sends `A` and receives `B`; `port2` sends `B` and receives `A`. With one type
/// parameter both directions carry the same type. The fields are public so that the Node
/// destructuring `const { port1, port2 } = new MessageChannel()` reads the same in Rust:
///
/// ```
/// use shared::channel::MessageChannel;
///
/// let MessageChannel { port1, port2 } = MessageChannel::<&str>::new();
/// port1.send("ping").unwrap();
/// assert_eq!(port2.recv(), Ok("ping"));
/// port2.send("pong").unwrap();
/// assert_eq!(port1.recv(), Ok("pong"));
/// ```
#[derive(Debug)]
pub struct MessageChannel<A, B = A> {
    /// Sends `A`, receives `B`.
    pub port1: MessagePort<A, B>,
    /// Sends `B`, receives `A`.
    pub port2: MessagePort<B, A>,
}

impl<A, B> MessageChannel<A, B> {
    /// Two connected ports with unbounded queues: `send` never waits.
    ///
    /// ```
    /// use shared::channel::MessageChannel;
    ///
    /// let MessageChannel { port1, port2 } = MessageChannel::<u32, String>::new();
    /// for n in 0..1000 {
    ///     port1.send(n).unwrap(); // never waits, however many are queued
    /// }
    /// assert_eq!(port2.receiver().len(), 1000);
    /// ```
    pub fn new() -> Self {
        Self::connect(
            crossbeam_channel::unbounded(),
            crossbeam_channel::unbounded(),
        )
    }

    /// Two connected ports whose queues hold at most `capacity` messages in each direction.
    /// `send` waits while the receiving side's queue is full.
    ///
    /// A `capacity` of 0 makes every send a rendezvous: it waits until the other side
    /// receives the message.
    ///
    /// ```
    /// use shared::channel::{MessageChannel, SendTimeoutError};
    /// use std::time::Duration;
    ///
    /// let MessageChannel { port1, port2 } = MessageChannel::<u32>::bounded(1);
    /// port1.send(1).unwrap();
    /// // The queue is full until port2 receives: a second send would wait.
    /// assert_eq!(
    ///     port1.send_timeout(2, Duration::from_millis(1)),
    ///     Err(SendTimeoutError::Timeout(2)),
    /// );
    /// assert_eq!(port2.recv(), Ok(1));
    /// port1.send(2).unwrap(); // room again
    /// ```
    pub fn bounded(capacity: usize) -> Self {
        Self::connect(
            crossbeam_channel::bounded(capacity),
            crossbeam_channel::bounded(capacity),
        )
    }

    /// Crosses the wires: port1 sends into the `a` channel, port2 receives from it.
    fn connect(
        (a_tx, a_rx): (Sender<A>, Receiver<A>),
        (b_tx, b_rx): (Sender<B>, Receiver<B>),
    ) -> Self {
        Self {
            port1: MessagePort { tx: a_tx, rx: b_rx },
            port2: MessagePort { tx: b_tx, rx: a_rx },
        }
    }
}

impl<A, B> Default for MessageChannel<A, B> {
    /// Same as [`MessageChannel::new`].
    ///
    /// ```
    /// let channel: shared::channel::MessageChannel<i32> = Default::default();
    /// channel.port2.send(7).unwrap();
    /// assert_eq!(channel.port1.recv(), Ok(7));
    /// ```
    fn default() -> Self {
        Self::new()
    }
}

/// One end of a [`MessageChannel`]: sends `Out` to the other end and receives `In` from it.
///
/// A port is not `Clone`, like Node's: exactly one place owns each end, so "the other side
/// closed" has one meaning. Dropping the port closes it; the other port's receives then fail
/// with a disconnected error once its queue is empty, and its sends hand the message back.
///
/// ```
/// use shared::channel::{MessageChannel, RecvError, SendError};
///
/// let MessageChannel { port1, port2 } = MessageChannel::<String>::new();
/// port1.send("last words".to_owned()).unwrap();
/// drop(port1);
/// assert_eq!(port2.recv().as_deref(), Ok("last words")); // queued messages still arrive
/// assert_eq!(port2.recv(), Err(RecvError));
/// assert_eq!(port2.send("anyone?".to_owned()), Err(SendError("anyone?".to_owned())));
/// ```
pub struct MessagePort<Out, In> {
    tx: Sender<Out>,
    rx: Receiver<In>,
}

impl<Out, In> MessagePort<Out, In> {
    /// Sends a message to the other port (`port.postMessage(msg)`).
    ///
    /// On an unbounded channel this never waits; on a [bounded](MessageChannel::bounded) one it
    /// waits while the other side's queue is full. If the other port has been dropped the
    /// message cannot be delivered and comes back inside the error, so nothing is lost
    /// silently.
    ///
    /// ```
    /// use shared::channel::{MessageChannel, SendError};
    ///
    /// let MessageChannel { port1, port2 } = MessageChannel::<Vec<u8>>::new();
    /// drop(port2);
    /// let SendError(returned) = port1.send(vec![1, 2, 3]).unwrap_err();
    /// assert_eq!(returned, [1, 2, 3]);
    /// ```
    pub fn send(&self, msg: Out) -> Result<(), SendError<Out>> {
        self.tx.send(msg)
    }

    /// Like [`send`](Self::send), but gives up after `timeout` if a
    /// [bounded](MessageChannel::bounded) queue stays full. The message comes back in either
    /// error.
    ///
    /// ```
    /// use shared::channel::{MessageChannel, SendTimeoutError};
    /// use std::time::Duration;
    ///
    /// let MessageChannel { port1, port2 } = MessageChannel::<char>::bounded(0);
    /// // Nobody is receiving on port2, so a rendezvous send cannot complete.
    /// let err = port1.send_timeout('x', Duration::from_millis(1)).unwrap_err();
    /// assert_eq!(err, SendTimeoutError::Timeout('x'));
    /// drop(port2);
    /// let err = port1.send_timeout('y', Duration::from_secs(10)).unwrap_err();
    /// assert_eq!(err, SendTimeoutError::Disconnected('y'));
    /// ```
    pub fn send_timeout(&self, msg: Out, timeout: Duration) -> Result<(), SendTimeoutError<Out>> {
        self.tx.send_timeout(msg, timeout)
    }

    /// Waits for the next message from the other port (`port.on('message', ...)`, one at a
    /// time). Fails once the other port is dropped and every message it sent was received.
    ///
    /// ```
    /// use shared::channel::MessageChannel;
    /// use std::thread;
    ///
    /// let MessageChannel { port1, port2 } = MessageChannel::<u64>::new();
    /// thread::spawn(move || port2.send(99).unwrap());
    /// assert_eq!(port1.recv(), Ok(99));
    /// ```
    pub fn recv(&self) -> Result<In, RecvError> {
        self.rx.recv()
    }

    /// Like [`recv`](Self::recv), but gives up after `timeout`. The error tells a timeout
    /// apart from a closed port.
    ///
    /// ```
    /// use shared::channel::{MessageChannel, RecvTimeoutError};
    /// use std::time::Duration;
    ///
    /// let MessageChannel { port1, port2 } = MessageChannel::<u8>::new();
    /// let nothing = port1.recv_timeout(Duration::from_millis(1));
    /// assert_eq!(nothing, Err(RecvTimeoutError::Timeout));
    /// drop(port2);
    /// let closed = port1.recv_timeout(Duration::from_secs(10));
    /// assert_eq!(closed, Err(RecvTimeoutError::Disconnected));
    /// ```
    pub fn recv_timeout(&self, timeout: Duration) -> Result<In, RecvTimeoutError> {
        self.rx.recv_timeout(timeout)
    }

    /// Takes a message if one is already queued, without waiting
    /// (Node's `receiveMessageOnPort(port)`).
    ///
    /// ```
    /// use shared::channel::{MessageChannel, TryRecvError};
    ///
    /// let MessageChannel { port1, port2 } = MessageChannel::<u8>::new();
    /// assert_eq!(port2.try_recv(), Err(TryRecvError::Empty));
    /// port1.send(1).unwrap();
    /// assert_eq!(port2.try_recv(), Ok(1));
    /// ```
    pub fn try_recv(&self) -> Result<In, TryRecvError> {
        self.rx.try_recv()
    }

    /// A blocking iterator over incoming messages that ends when the other port is dropped
    /// (and its queued messages are received). `for msg in &port` does the same.
    ///
    /// The port stays usable for sending while the loop runs: replying from inside the loop
    /// is the usual shape of a worker.
    ///
    /// ```
    /// use shared::channel::MessageChannel;
    ///
    /// let MessageChannel { port1, port2 } = MessageChannel::<i32>::new();
    /// for n in 1..=3 {
    ///     port1.send(n).unwrap();
    /// }
    /// drop(port1);
    /// assert_eq!(port2.iter().sum::<i32>(), 6);
    /// ```
    pub fn iter(&self) -> Iter<'_, In> {
        self.rx.iter()
    }

    /// The crossbeam sender behind this port, for what the port does not wrap: `len`,
    /// `is_full`, or cloning it so that several threads can send through this one port.
    ///
    /// A clone keeps the direction open: the other port sees "closed" only when this port
    /// *and* every clone are dropped.
    ///
    /// ```
    /// use shared::channel::MessageChannel;
    ///
    /// let MessageChannel { port1, port2 } = MessageChannel::<u8>::new();
    /// let extra = port1.sender().clone();
    /// drop(port1);
    /// extra.send(5).unwrap(); // still connected through the clone
    /// assert_eq!(port2.recv(), Ok(5));
    /// ```
    pub fn sender(&self) -> &Sender<Out> {
        &self.tx
    }

    /// The crossbeam receiver behind this port, chiefly for waiting on several sources at
    /// once with [`crossbeam_channel::select!`]: the Rust counterpart of listening for
    /// `message` events on several ports.
    ///
    /// ```
    /// use crossbeam_channel::select;
    /// use shared::channel::MessageChannel;
    ///
    /// let jobs = MessageChannel::<&str>::new();
    /// let control = MessageChannel::<&str>::new();
    /// control.port1.send("stop").unwrap();
    /// select! {
    ///     recv(jobs.port2.receiver()) -> job => panic!("no job was sent, got {job:?}"),
    ///     recv(control.port2.receiver()) -> msg => assert_eq!(msg, Ok("stop")),
    /// }
    /// ```
    pub fn receiver(&self) -> &Receiver<In> {
        &self.rx
    }

    /// Splits the port into its crossbeam sender and receiver, for code that wants to move
    /// the two halves to different places (say, a reading thread and a writing thread).
    ///
    /// ```
    /// use shared::channel::MessageChannel;
    /// use std::thread;
    ///
    /// let MessageChannel { port1, port2 } = MessageChannel::<u32>::new();
    /// let (tx, rx) = port2.into_parts();
    /// let echo = thread::spawn(move || {
    ///     for n in rx {
    ///         tx.send(n + 1).unwrap();
    ///     }
    /// });
    /// port1.send(1).unwrap();
    /// assert_eq!(port1.recv(), Ok(2));
    /// drop(port1);
    /// echo.join().unwrap();
    /// ```
    pub fn into_parts(self) -> (Sender<Out>, Receiver<In>) {
        (self.tx, self.rx)
    }
}

impl<'a, Out, In> IntoIterator for &'a MessagePort<Out, In> {
    type Item = In;
    type IntoIter = Iter<'a, In>;

    /// `for msg in &port`: the same as [`MessagePort::iter`].
    ///
    /// ```
    /// use shared::channel::MessageChannel;
    ///
    /// let MessageChannel { port1, port2 } = MessageChannel::<char>::new();
    /// port1.send('a').unwrap();
    /// drop(port1);
    /// let mut received = Vec::new();
    /// for c in &port2 {
    ///     received.push(c);
    /// }
    /// assert_eq!(received, ['a']);
    /// ```
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<Out, In> fmt::Debug for MessagePort<Out, In> {
    /// Shows how many messages wait in each direction, not the messages themselves (which
    /// need not be `Debug`).
    ///
    /// ```
    /// use shared::channel::MessageChannel;
    ///
    /// let MessageChannel { port1, port2 } = MessageChannel::<u8>::new();
    /// port1.send(1).unwrap();
    /// assert_eq!(format!("{port2:?}"), "MessagePort { outgoing: 0, incoming: 1 }");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessagePort")
            .field("outgoing", &self.tx.len())
            .field("incoming", &self.rx.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TIMEOUT, join_within, recv_or_fail};
    use std::thread;

    fn assert_send<T: Send>() {}

    #[test]
    fn ports_are_send_when_their_messages_are() {
        assert_send::<MessagePort<String, Vec<u8>>>();
        // `Rc` is not `Send`, so `MessagePort<Rc<u8>, u8>` could not be moved into a thread;
        // that is checked by the compiler, not here.
    }

    #[test]
    fn both_directions_work_across_threads_with_their_own_types() {
        let MessageChannel { port1, port2 } = MessageChannel::<u32, String>::new();
        let worker = thread::spawn(move || {
            for n in &port2 {
                port2.send(format!("#{n}")).unwrap();
            }
            "port1 was dropped"
        });
        for n in 0..100 {
            port1.send(n).unwrap();
        }
        let replies: Vec<String> = (0..100)
            .map(|_| recv_or_fail(port1.receiver(), "a reply from port2"))
            .collect();
        let expected: Vec<String> = (0..100).map(|n| format!("#{n}")).collect();
        assert_eq!(replies, expected);
        drop(port1);
        let why = join_within(worker, TIMEOUT, "the port2 thread").unwrap();
        assert_eq!(why, "port1 was dropped");
    }

    #[test]
    fn port2_can_start_the_conversation() {
        let MessageChannel { port1, port2 } = MessageChannel::<u8>::new();
        let (ready_tx, ready_rx) = crossbeam_channel::bounded(1);
        let worker = thread::spawn(move || {
            port2.send(1).unwrap();
            ready_tx.send(()).unwrap();
            recv_or_fail(port2.receiver(), "the answer from port1")
        });
        recv_or_fail(&ready_rx, "port2's first message to be sent");
        assert_eq!(recv_or_fail(port1.receiver(), "port2's message"), 1);
        port1.send(2).unwrap();
        assert_eq!(join_within(worker, TIMEOUT, "the port2 thread").unwrap(), 2);
    }

    #[test]
    fn dropping_one_port_ends_the_iterator_of_the_other() {
        let MessageChannel { port1, port2 } = MessageChannel::<u8>::new();
        let reader = thread::spawn(move || port2.iter().collect::<Vec<_>>());
        port1.send(1).unwrap();
        port1.send(2).unwrap();
        drop(port1);
        let got = join_within(reader, TIMEOUT, "the reading thread").unwrap();
        assert_eq!(got, [1, 2]);
    }

    #[test]
    fn sending_to_a_dropped_port_hands_the_message_back() {
        let MessageChannel { port1, port2 } = MessageChannel::<String, u8>::new();
        let holder = thread::spawn(move || drop(port2));
        join_within(holder, TIMEOUT, "the thread that drops port2").unwrap();
        let err = port1.send("undeliverable".to_owned()).unwrap_err();
        assert_eq!(err.into_inner(), "undeliverable");
        assert_eq!(
            port1.recv_timeout(TIMEOUT),
            Err(RecvTimeoutError::Disconnected)
        );
        assert_eq!(port1.try_recv(), Err(TryRecvError::Disconnected));
    }

    #[test]
    fn bounded_ports_push_back_until_the_other_side_receives() {
        let MessageChannel { port1, port2 } = MessageChannel::<u8>::bounded(1);
        port1.send(1).unwrap();
        assert!(port1.sender().is_full());
        assert_eq!(
            port1.sender().try_send(2),
            Err(crossbeam_channel::TrySendError::Full(2))
        );
        let consumer = thread::spawn(move || port2.iter().collect::<Vec<_>>());
        // These sends wait for room; they complete because the consumer keeps receiving.
        port1.send(2).unwrap();
        port1.send(3).unwrap();
        drop(port1);
        let got = join_within(consumer, TIMEOUT, "the consumer").unwrap();
        assert_eq!(got, [1, 2, 3]);
    }

    #[test]
    fn a_port_works_in_select() {
        let first = MessageChannel::<u8>::new();
        let second = MessageChannel::<u8>::new();
        second.port1.send(2).unwrap();
        crossbeam_channel::select! {
            recv(first.port2.receiver()) -> msg => panic!("nothing was sent on first: {msg:?}"),
            recv(second.port2.receiver()) -> msg => assert_eq!(msg, Ok(2)),
            default(TIMEOUT) => panic!("select saw no message"),
        }
    }

    #[test]
    fn into_parts_keeps_both_directions_connected() {
        let MessageChannel { port1, port2 } = MessageChannel::<u8, char>::new();
        let (tx, rx) = port1.into_parts();
        tx.send(7).unwrap();
        assert_eq!(recv_or_fail(port2.receiver(), "the byte"), 7);
        port2.send('z').unwrap();
        assert_eq!(recv_or_fail(&rx, "the char"), 'z');
        drop((tx, rx));
        assert_eq!(port2.recv(), Err(RecvError));
    }
}
