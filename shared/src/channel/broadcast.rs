//! One message, every listener: the Rust answer to Node's `BroadcastChannel`.
//!
//! In Node, every `new BroadcastChannel('name')` with the same name, in any thread, hears what
//! any of the others posts. Here a [`BroadcastChannel`] is a handle for *sending*, and each
//! listener calls [`subscribe`](BroadcastChannel::subscribe) to get its own [`Subscriber`],
//! which receives every message sent after it subscribed, in the order they were sent.
//! Clones of the channel share one list of subscribers, so any thread holding a clone (or a
//! `&` reference) can send or subscribe. As in Node, a sender does not hear its own messages
//! unless it subscribes too.
//!
//! ```
//! use shared::channel::BroadcastChannel;
//! use std::thread;
//!
//! let config = BroadcastChannel::new();
//! let listeners: Vec<_> = (0..3)
//!     .map(|_| {
//!         let updates = config.subscribe(); // subscribe before the thread starts: no gap
//!         thread::spawn(move || updates.iter().collect::<Vec<_>>())
//!     })
//!     .collect();
//! assert_eq!(config.send("verbose=1"), 3);
//! assert_eq!(config.send("verbose=0"), 3);
//! drop(config); // no more senders: every subscriber's iterator ends
//! for listener in listeners {
//!     assert_eq!(listener.join().unwrap(), ["verbose=1", "verbose=0"]);
//! }
//! ```
//!
//! # How it works, and what a slow subscriber costs
//!
//! The channel keeps one unbounded crossbeam sender per subscriber.
//! [`send`](BroadcastChannel::send) clones the message into each subscriber's queue, so
//! `T: Clone`; wrap large messages in an `Arc` to make that clone a counter increment. A
//! subscriber that was dropped makes its sender fail, and `send` removes it from the list then
//! and there.
//!
//! Unbounded queues mean that sending never waits and a slow subscriber never slows the others
//! down, but also that a subscriber that stops reading (without being dropped) makes its queue
//! grow for as long as messages are sent. That is the honest, simple choice for a lesson, and
//! Node's `BroadcastChannel` behaves the same way. The other policies, each with its price:
//! a bounded queue that makes `send` *wait* for the slowest subscriber (one stuck listener
//! stalls everyone), or one that *drops* messages for a full subscriber (it misses messages;
//! `tokio::sync::broadcast` does this and reports "lagged"). [`Subscriber::pending`] shows how
//! far behind a subscriber is.

use crossbeam_channel::{
    IntoIter, Iter, Receiver, RecvError, RecvTimeoutError, Sender, TryRecvError,
};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// The sending side of a broadcast: every message goes to every current [`Subscriber`].
///
/// Cheap to clone; clones share the same subscribers. Subscribers see the channel as closed
/// once every clone is dropped.
///
/// ```
/// use shared::channel::BroadcastChannel;
///
/// let channel = BroadcastChannel::new();
/// let other_handle = channel.clone();
/// let subscriber = other_handle.subscribe();
/// assert_eq!(channel.send(1), 1); // sent through one clone, subscribed through the other
/// assert_eq!(subscriber.recv(), Ok(1));
/// ```
pub struct BroadcastChannel<T> {
    /// One sender per subscriber. The mutex makes "subscribe" and "send to everyone" each
    /// atomic with respect to the other, which is what gives the guarantees: a subscriber gets
    /// exactly the messages whose `send` began after its `subscribe`, and all subscribers see
    /// messages from concurrent senders in the same order.
    subscribers: Arc<Mutex<Vec<Sender<T>>>>,
}

/// One listener's queue of broadcast messages.
///
/// Receives every message sent after [`subscribe`](BroadcastChannel::subscribe) returned, in
/// order. Dropping it unsubscribes. Receiving fails with a disconnected error once every
/// [`BroadcastChannel`] handle is dropped and the queue is empty.
///
/// ```
/// use shared::channel::{BroadcastChannel, RecvError};
///
/// let channel = BroadcastChannel::new();
/// let subscriber = channel.subscribe();
/// channel.send('a');
/// drop(channel);
/// assert_eq!(subscriber.recv(), Ok('a'));
/// assert_eq!(subscriber.recv(), Err(RecvError));
/// ```
pub struct Subscriber<T> {
    rx: Receiver<T>,
}

impl<T> BroadcastChannel<T> {
    /// A channel with no subscribers yet.
    ///
    /// ```
    /// let channel = shared::channel::BroadcastChannel::new();
    /// assert_eq!(channel.send("into the void"), 0);
    /// ```
    pub fn new() -> Self {
        Self {
            subscribers: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// A new subscriber that will receive every message sent from now on, and none sent
    /// before. Callable from any thread that holds the channel or a clone of it.
    ///
    /// ```
    /// use shared::channel::{BroadcastChannel, TryRecvError};
    ///
    /// let channel = BroadcastChannel::new();
    /// let early = channel.subscribe();
    /// channel.send("first");
    /// let late = channel.subscribe();
    /// channel.send("second");
    /// assert_eq!(early.try_recv(), Ok("first"));
    /// assert_eq!(early.try_recv(), Ok("second"));
    /// assert_eq!(late.try_recv(), Ok("second")); // "first" was sent before it subscribed
    /// assert_eq!(late.try_recv(), Err(TryRecvError::Empty));
    /// ```
    pub fn subscribe(&self) -> Subscriber<T> {
        let (tx, rx) = crossbeam_channel::unbounded();
        self.lock().push(tx);
        Subscriber { rx }
    }

    /// The mutex guards a `Vec` that is never left half-updated (`retain` and `push` are
    /// panic-safe, and a panicking `T::clone` inside `send` leaves a valid list), so a
    /// poisoned lock is safe to use.
    fn lock(&self) -> MutexGuard<'_, Vec<Sender<T>>> {
        self.subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T: Clone> BroadcastChannel<T> {
    /// Sends `msg` to every live subscriber and returns how many it reached.
    ///
    /// Never waits (the queues are unbounded). Subscribers that were dropped are removed
    /// from the list. Zero means nobody is listening, which in Node's `BroadcastChannel` is
    /// silent; here you can see it.
    ///
    /// ```
    /// use shared::channel::BroadcastChannel;
    ///
    /// let channel = BroadcastChannel::new();
    /// assert_eq!(channel.send(0), 0); // nobody listening
    /// let a = channel.subscribe();
    /// let b = channel.subscribe();
    /// assert_eq!(channel.send(1), 2);
    /// drop(b);
    /// assert_eq!(channel.send(2), 1); // `b` was pruned
    /// assert_eq!(a.iter().take(2).collect::<Vec<_>>(), [1, 2]);
    /// ```
    pub fn send(&self, msg: T) -> usize {
        let mut subscribers = self.lock();
        // Sending on an unbounded channel never blocks, so holding the lock here cannot
        // stall: it only makes the whole broadcast one step, ordered against other sends and
        // subscribes.
        subscribers.retain(|tx| tx.send(msg.clone()).is_ok());
        subscribers.len()
    }
}

impl<T> Clone for BroadcastChannel<T> {
    /// Another handle to the same channel and subscribers (written by hand because
    /// `#[derive(Clone)]` would demand `T: Clone`, which sharing does not need).
    ///
    /// ```
    /// let channel = shared::channel::BroadcastChannel::new();
    /// let subscriber = channel.clone().subscribe();
    /// assert_eq!(channel.send(5), 1);
    /// assert_eq!(subscriber.recv(), Ok(5));
    /// ```
    fn clone(&self) -> Self {
        Self {
            subscribers: Arc::clone(&self.subscribers),
        }
    }
}

impl<T> Default for BroadcastChannel<T> {
    /// Same as [`BroadcastChannel::new`].
    ///
    /// ```
    /// let channel: shared::channel::BroadcastChannel<u8> = Default::default();
    /// assert_eq!(channel.send(1), 0);
    /// ```
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for BroadcastChannel<T> {
    /// Shows the length of the subscriber list. Dropped subscribers stay in it until the next
    /// [`send`](BroadcastChannel::send) prunes them: a sender cannot tell that its receiver is
    /// gone without trying to send.
    ///
    /// ```
    /// let channel = shared::channel::BroadcastChannel::<u8>::new();
    /// let _s = channel.subscribe();
    /// assert_eq!(format!("{channel:?}"), "BroadcastChannel { listed: 1 }");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BroadcastChannel")
            .field("listed", &self.lock().len())
            .finish()
    }
}

impl<T> Subscriber<T> {
    /// Waits for the next broadcast message. Fails once every channel handle is dropped and
    /// the queue is empty.
    ///
    /// ```
    /// use shared::channel::BroadcastChannel;
    /// use std::thread;
    ///
    /// let channel = BroadcastChannel::new();
    /// let subscriber = channel.subscribe();
    /// thread::spawn(move || channel.send("hello"));
    /// assert_eq!(subscriber.recv(), Ok("hello"));
    /// ```
    pub fn recv(&self) -> Result<T, RecvError> {
        self.rx.recv()
    }

    /// Like [`recv`](Self::recv), but gives up after `timeout`.
    ///
    /// ```
    /// use shared::channel::{BroadcastChannel, RecvTimeoutError};
    /// use std::time::Duration;
    ///
    /// let channel = BroadcastChannel::<u8>::new();
    /// let subscriber = channel.subscribe();
    /// let nothing = subscriber.recv_timeout(Duration::from_millis(1));
    /// assert_eq!(nothing, Err(RecvTimeoutError::Timeout));
    /// ```
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.rx.recv_timeout(timeout)
    }

    /// Takes a message if one is queued, without waiting.
    ///
    /// ```
    /// use shared::channel::{BroadcastChannel, TryRecvError};
    ///
    /// let channel = BroadcastChannel::new();
    /// let subscriber = channel.subscribe();
    /// assert_eq!(subscriber.try_recv(), Err(TryRecvError::Empty));
    /// channel.send(3);
    /// assert_eq!(subscriber.try_recv(), Ok(3));
    /// ```
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.rx.try_recv()
    }

    /// A blocking iterator over messages that ends when every channel handle is dropped.
    /// `for msg in &subscriber` and `for msg in subscriber` do the same.
    ///
    /// ```
    /// use shared::channel::BroadcastChannel;
    ///
    /// let channel = BroadcastChannel::new();
    /// let subscriber = channel.subscribe();
    /// channel.send(1);
    /// channel.send(2);
    /// drop(channel);
    /// assert_eq!(subscriber.iter().collect::<Vec<_>>(), [1, 2]);
    /// ```
    pub fn iter(&self) -> Iter<'_, T> {
        self.rx.iter()
    }

    /// How many messages wait in this subscriber's queue: how far behind it is.
    ///
    /// ```
    /// use shared::channel::BroadcastChannel;
    ///
    /// let channel = BroadcastChannel::new();
    /// let slow = channel.subscribe();
    /// for n in 0..5 {
    ///     channel.send(n);
    /// }
    /// assert_eq!(slow.pending(), 5);
    /// ```
    pub fn pending(&self) -> usize {
        self.rx.len()
    }

    /// The crossbeam receiver behind this subscriber, for [`crossbeam_channel::select!`].
    ///
    /// ```
    /// use crossbeam_channel::select;
    /// use shared::channel::BroadcastChannel;
    ///
    /// let shutdown = BroadcastChannel::new();
    /// let listener = shutdown.subscribe();
    /// let (_work_tx, work) = crossbeam_channel::unbounded::<u32>();
    /// shutdown.send(());
    /// select! {
    ///     recv(work) -> job => panic!("no work was sent, got {job:?}"),
    ///     recv(listener.receiver()) -> msg => assert_eq!(msg, Ok(())),
    /// }
    /// ```
    pub fn receiver(&self) -> &Receiver<T> {
        &self.rx
    }
}

impl<T> IntoIterator for Subscriber<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;

    /// `for msg in subscriber`: consumes the subscriber, which unsubscribes when the loop
    /// ends.
    ///
    /// ```
    /// let channel = shared::channel::BroadcastChannel::new();
    /// let subscriber = channel.subscribe();
    /// channel.send("only");
    /// drop(channel);
    /// let all: Vec<_> = subscriber.into_iter().collect();
    /// assert_eq!(all, ["only"]);
    /// ```
    fn into_iter(self) -> Self::IntoIter {
        self.rx.into_iter()
    }
}

impl<'a, T> IntoIterator for &'a Subscriber<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;

    /// `for msg in &subscriber`: the same as [`Subscriber::iter`].
    ///
    /// ```
    /// let channel = shared::channel::BroadcastChannel::new();
    /// let subscriber = channel.subscribe();
    /// channel.send(1);
    /// drop(channel);
    /// let mut sum = 0;
    /// for n in &subscriber {
    ///     sum += n;
    /// }
    /// assert_eq!(sum, 1);
    /// ```
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T> fmt::Debug for Subscriber<T> {
    /// Shows how many messages are pending, not the messages.
    ///
    /// ```
    /// let channel = shared::channel::BroadcastChannel::new();
    /// let subscriber = channel.subscribe();
    /// channel.send(1);
    /// assert_eq!(format!("{subscriber:?}"), "Subscriber { pending: 1 }");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscriber")
            .field("pending", &self.pending())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TIMEOUT, join_within, recv_or_fail};
    use std::thread;

    #[test]
    fn every_live_subscriber_gets_every_message_in_order() {
        let channel = BroadcastChannel::new();
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let subscriber = channel.subscribe();
                thread::spawn(move || subscriber.iter().collect::<Vec<u32>>())
            })
            .collect();
        for n in 0..100 {
            assert_eq!(channel.send(n), 4);
        }
        drop(channel);
        let expected: Vec<u32> = (0..100).collect();
        for reader in readers {
            assert_eq!(
                join_within(reader, TIMEOUT, "a subscriber thread").unwrap(),
                expected
            );
        }
    }

    #[test]
    fn dropped_subscribers_are_pruned_and_not_counted() {
        let channel = BroadcastChannel::new();
        let kept = channel.subscribe();
        let gone: Vec<_> = (0..3).map(|_| channel.subscribe()).collect();
        assert_eq!(channel.send("all"), 4);
        drop(gone);
        assert_eq!(
            channel.lock().len(),
            4,
            "nothing prunes before the next send"
        );
        assert_eq!(channel.send("one"), 1);
        assert_eq!(channel.lock().len(), 1);
        assert_eq!(kept.iter().take(2).collect::<Vec<_>>(), ["all", "one"]);
    }

    #[test]
    fn a_late_subscriber_gets_only_later_messages() {
        let channel = BroadcastChannel::new();
        let early = channel.subscribe();
        channel.send(1);
        channel.send(2);
        let late = channel.subscribe();
        channel.send(3);
        drop(channel);
        assert_eq!(early.iter().collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(late.iter().collect::<Vec<_>>(), [3]);
    }

    #[test]
    fn threads_subscribe_through_a_shared_reference_and_a_clone() {
        let channel = BroadcastChannel::new();
        let (subscribed_tx, subscribed_rx) = crossbeam_channel::unbounded();
        thread::scope(|s| {
            let shared = &channel;
            let tx = subscribed_tx.clone();
            let by_ref = s.spawn(move || {
                let subscriber = shared.subscribe(); // `&BroadcastChannel` is enough
                tx.send(()).unwrap();
                recv_or_fail(subscriber.receiver(), "the broadcast, via &")
            });
            let clone = channel.clone();
            let by_clone = s.spawn(move || {
                let subscriber = clone.subscribe();
                drop(clone); // the subscriber does not need the handle it came from
                subscribed_tx.send(()).unwrap();
                recv_or_fail(subscriber.receiver(), "the broadcast, via a clone")
            });
            recv_or_fail(&subscribed_rx, "the first subscription");
            recv_or_fail(&subscribed_rx, "the second subscription");
            assert_eq!(channel.send('!'), 2);
            assert_eq!(by_ref.join().unwrap(), '!');
            assert_eq!(by_clone.join().unwrap(), '!');
        });
    }

    #[test]
    fn concurrent_senders_are_seen_in_the_same_order_by_everyone() {
        let channel = BroadcastChannel::new();
        let a = channel.subscribe();
        let b = channel.subscribe();
        thread::scope(|s| {
            for sender in 0..4u32 {
                let channel = channel.clone();
                s.spawn(move || {
                    for n in 0..50 {
                        channel.send((sender, n));
                    }
                });
            }
        });
        drop(channel);
        let seen_by_a: Vec<_> = a.iter().collect();
        let seen_by_b: Vec<_> = b.iter().collect();
        assert_eq!(seen_by_a.len(), 200);
        assert_eq!(seen_by_a, seen_by_b);
        // Each sender's own messages keep their order.
        for sender in 0..4 {
            let own: Vec<_> = seen_by_a
                .iter()
                .filter(|(s, _)| *s == sender)
                .map(|(_, n)| *n)
                .collect();
            assert_eq!(own, (0..50).collect::<Vec<_>>());
        }
    }

    #[test]
    fn subscribers_see_the_end_when_every_handle_is_dropped() {
        let channel = BroadcastChannel::<u8>::new();
        let clone = channel.clone();
        let subscriber = channel.subscribe();
        drop(channel);
        assert_eq!(
            subscriber.try_recv(),
            Err(TryRecvError::Empty),
            "a clone is still alive"
        );
        drop(clone);
        assert_eq!(
            subscriber.recv_timeout(TIMEOUT),
            Err(RecvTimeoutError::Disconnected)
        );
    }

    #[test]
    fn a_panicking_clone_does_not_break_the_channel() {
        #[derive(Debug, PartialEq)]
        struct Fragile(bool);
        impl Clone for Fragile {
            fn clone(&self) -> Self {
                assert!(!self.0, "this message refuses to be cloned");
                Fragile(false)
            }
        }
        let channel = BroadcastChannel::new();
        let subscriber = channel.subscribe();
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| channel.send(Fragile(true))));
        assert!(result.is_err());
        assert_eq!(channel.send(Fragile(false)), 1);
        assert_eq!(subscriber.recv(), Ok(Fragile(false)));
    }
}
