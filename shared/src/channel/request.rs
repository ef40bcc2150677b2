//! Request/response between threads: each question gets its own answer, or a typed error.
//!
//! `postMessage` is fire-and-forget. To *ask* a worker something, the Node course builds a
//! protocol on top: the client sends `{ id, payload }`, keeps a `Map` of id → `resolve`, and the
//! worker answers `{ id, result }` on the same port. The id is what ties an answer to its
//! question, because every answer arrives through one `message` event. Without it, two
//! concurrent callers can receive each other's answers; and a caller that timed out and
//! deleted its map entry leaves a reply with an *unknown* id, which the course's clients
//! either crash on or, with a reused slot, hand to the wrong caller.
//!
//! Threads can do better, because a channel end can travel inside a message. Here each
//! [`Request`] carries its own one-shot reply channel (a [`Responder`]), so an answer can only
//! reach the call that asked: the reply channel *is* the map entry, created per request and
//! destroyed with it. That gives, with no dispatcher thread and no shared map:
//!
//! * **No mixed replies.** Concurrent callers sharing one [`RequestClient`] each wait on their
//!   own reply channel.
//! * **No late replies.** A caller that times out drops its reply channel; the server's late
//!   [`reply`](Request::reply) then fails with [`CallerGone`] instead of landing in the next
//!   call's lap.
//! * **No silent hangs.** A server that drops a request without answering, or disappears
//!   with requests queued, drops their reply channels, and each waiting caller gets
//!   [`RequestError::NoReply`] at once, not after its timeout.
//!
//! Each request still has an id (a counter shared by the clones of a client). It no longer
//! does the matching, but it names the request: in [`RequestError`]s, in [`CallerGone`], and in
//! server logs, so "request 7 timed out" and "late reply to request 7 discarded" can be put
//! side by side. And when requests must cross a boundary a channel cannot (a socket, another
//! process), the id is again all there is, and the Node-style map comes back.
//!
//! ```
//! use shared::channel::{RequestError, request_channel};
//! use std::thread;
//! use std::time::Duration;
//!
//! let (client, server) = request_channel::<String, usize>();
//! let worker = thread::spawn(move || {
//!     for request in server {
//!         if request.body.is_empty() {
//!             continue; // dropping the request: its caller gets `NoReply` at once
//!         }
//!         let length = request.body.len();
//!         let _ = request.reply(length); // fails only if the caller stopped waiting
//!     }
//! });
//! let timeout = Duration::from_secs(10);
//! assert_eq!(client.request("four".to_owned(), timeout), Ok(4));
//! assert!(matches!(client.request(String::new(), timeout), Err(RequestError::NoReply { .. })));
//! drop(client); // the server's loop ends when every client is gone
//! worker.join().unwrap();
//! ```

use crossbeam_channel::{
    IntoIter, Iter, Receiver, RecvError, RecvTimeoutError, Sender, TryRecvError,
};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A connected client and server: requests of type `Q`, responses of type `R`.
///
/// The request queue is unbounded, so sending a request never waits; only waiting for the
/// reply does, and that always has a timeout.
///
/// ```
/// use shared::channel::request_channel;
/// use std::time::Duration;
///
/// let (client, server) = request_channel::<u8, bool>();
/// std::thread::spawn(move || {
///     for request in server {
///         let even = request.body % 2 == 0;
///         let _ = request.reply(even);
///     }
/// });
/// assert_eq!(client.request(4, Duration::from_secs(10)), Ok(true));
/// ```
pub fn request_channel<Q, R>() -> (RequestClient<Q, R>, RequestServer<Q, R>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let client = RequestClient {
        requests: tx,
        next_id: Arc::new(AtomicU64::new(1)),
    };
    (client, RequestServer { requests: rx })
}

/// The asking side: sends requests and waits for their replies.
///
/// Share it between threads by `&` (it is `Sync`) or by cloning; clones send to the same
/// server and draw ids from the same counter. The server sees the channel as closed once every
/// clone is dropped.
///
/// ```
/// use shared::channel::request_channel;
/// use std::thread;
/// use std::time::Duration;
///
/// let (client, server) = request_channel::<u32, u32>();
/// thread::spawn(move || {
///     for request in server {
///         let square = request.body * request.body;
///         let _ = request.reply(square);
///     }
/// });
/// thread::scope(|s| {
///     for n in 1..=3 {
///         let client = &client;
///         s.spawn(move || assert_eq!(client.request(n, Duration::from_secs(10)), Ok(n * n)));
///     }
/// });
/// ```
pub struct RequestClient<Q, R> {
    requests: Sender<Request<Q, R>>,
    /// Shared by every clone, so ids are unique per channel, not per clone.
    next_id: Arc<AtomicU64>,
}

/// The answering side: receives [`Request`]s, each to be answered with
/// [`reply`](Request::reply).
///
/// Cloning it gives several server threads one shared queue; each request goes to exactly one
/// of them (a worker pool). Receiving fails, and iteration ends, once every
/// [`RequestClient`] is dropped and the queue is empty. Dropping every server clone fails all
/// queued and future requests at once.
///
/// ```
/// use shared::channel::{RequestError, request_channel};
/// use std::time::Duration;
///
/// let (client, server) = request_channel::<(), ()>();
/// drop(server);
/// assert_eq!(client.request((), Duration::from_secs(10)), Err(RequestError::ServerGone));
/// ```
pub struct RequestServer<Q, R> {
    requests: Receiver<Request<Q, R>>,
}

/// One question from a [`RequestClient`], as a server receives it.
///
/// Answer it with [`reply`](Self::reply), which consumes it: the compiler lets each request
/// be answered at most once. Dropping it unanswered tells the caller at once
/// ([`RequestError::NoReply`]). To move the body out and still answer, destructure it:
///
/// ```
/// use shared::channel::{Request, request_channel};
/// use std::time::Duration;
///
/// let (client, server) = request_channel::<Vec<u32>, u32>();
/// std::thread::spawn(move || {
///     for Request { id, body, responder } in server {
///         println!("serving request {id}");
///         let _ = responder.reply(body.into_iter().sum()); // `body` moved, not borrowed
///     }
/// });
/// assert_eq!(client.request(vec![1, 2, 3], Duration::from_secs(10)), Ok(6));
/// ```
#[derive(Debug)]
pub struct Request<Q, R> {
    /// Unique among the requests of one channel; the same id appears in the caller's errors.
    pub id: u64,
    /// What the client asked.
    pub body: Q,
    /// Where the answer goes; [`reply`](Self::reply) uses it for you.
    pub responder: Responder<R>,
}

/// The reply half of a [`Request`]: a one-shot channel back to the one caller waiting for it.
///
/// Only [`request_channel`] can make one, so every responder leads to a real caller.
///
/// ```
/// use shared::channel::request_channel;
/// use std::time::Duration;
///
/// let (client, server) = request_channel::<&str, &str>();
/// std::thread::spawn(move || {
///     let request = server.recv().unwrap();
///     let responder = request.responder; // hand it to whichever thread will answer
///     std::thread::spawn(move || responder.reply("answered elsewhere"));
/// });
/// assert_eq!(client.request("hi", Duration::from_secs(10)), Ok("answered elsewhere"));
/// ```
pub struct Responder<R> {
    id: u64,
    reply_to: Sender<R>,
}

/// Why [`RequestClient::request`] returned no answer.
///
/// ```
/// use shared::channel::{RequestError, request_channel};
/// use std::time::Duration;
///
/// let (client, server) = request_channel::<u8, u8>();
/// let ignored = std::thread::spawn(move || drop(server.recv()));
/// let err = client.request(1, Duration::from_secs(10)).unwrap_err();
/// assert_eq!(err, RequestError::NoReply { id: 1 });
/// assert_eq!(err.to_string(), "request 1 was dropped without a reply");
/// # ignored.join().unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// Every [`RequestServer`] was dropped before the request could be queued.
    #[error("the server is gone: the request could not be sent")]
    ServerGone,
    /// The server dropped the request without replying, or disappeared with it still queued.
    #[error("request {id} was dropped without a reply")]
    NoReply {
        /// The id of the unanswered request.
        id: u64,
    },
    /// No reply came within the timeout. A reply that comes later is refused (the server sees
    /// [`CallerGone`]), never handed to another call.
    #[error("no reply to request {id} within {timeout:?}")]
    Timeout {
        /// The id of the request that timed out.
        id: u64,
        /// How long the caller waited.
        timeout: Duration,
    },
}

/// A reply that could not be delivered because its caller stopped waiting (it timed out, or
/// its thread ended). The response comes back so the server can log or reuse it.
///
/// ```
/// use shared::channel::{CallerGone, RequestError, request_channel};
/// use std::time::Duration;
///
/// let (client, server) = request_channel::<u8, u8>();
/// let err = client.request(1, Duration::from_millis(1)).unwrap_err();
/// assert!(matches!(err, RequestError::Timeout { id: 1, .. }));
/// let late = server.try_recv().unwrap(); // the request is still queued: answer it late
/// assert_eq!(late.reply(2), Err(CallerGone { id: 1, response: 2 }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the caller of request {id} stopped waiting; the reply was discarded")]
pub struct CallerGone<R> {
    /// The id of the request whose caller is gone.
    pub id: u64,
    /// The reply that was not delivered.
    pub response: R,
}

impl<Q, R> RequestClient<Q, R> {
    /// Sends `body` to the server and waits at most `timeout` for the reply to *this* request.
    ///
    /// Fails with [`RequestError::ServerGone`] if no server is left to queue the request for,
    /// [`RequestError::NoReply`] as soon as the server drops the request unanswered, and
    /// [`RequestError::Timeout`] if the server holds it longer than `timeout`.
    ///
    /// ```
    /// use shared::channel::{RequestError, request_channel};
    /// use std::time::Duration;
    ///
    /// let (client, server) = request_channel::<u8, u8>();
    /// // Nobody serves: the request sits in the queue until the timeout.
    /// let err = client.request(7, Duration::from_millis(1)).unwrap_err();
    /// assert!(matches!(err, RequestError::Timeout { id: 1, .. }));
    /// # drop(server);
    /// ```
    pub fn request(&self, body: Q, timeout: Duration) -> Result<R, RequestError> {
        // `Relaxed` is enough: the counter only has to hand out each number once, which
        // `fetch_add` guarantees whatever the ordering; nothing else is published through it.
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        // Capacity 1: exactly one reply can ever be sent, so the server never waits for room.
        let (reply_to, reply) = crossbeam_channel::bounded(1);
        let request = Request {
            id,
            body,
            responder: Responder { id, reply_to },
        };
        self.requests
            .send(request)
            .map_err(|_| RequestError::ServerGone)?;
        // Our own copy of `reply_to` went into the request, so "disconnected" below can only
        // mean that the request, and with it the last sender, was dropped unanswered.
        reply.recv_timeout(timeout).map_err(|err| match err {
            RecvTimeoutError::Timeout => RequestError::Timeout { id, timeout },
            RecvTimeoutError::Disconnected => RequestError::NoReply { id },
        })
        // `reply` is dropped here, also on timeout: a late `Responder::reply` then fails
        // instead of leaving an answer where another call could find it.
    }
}

impl<Q, R> Clone for RequestClient<Q, R> {
    /// Another handle to the same server, sharing the id counter. (Written by hand because
    /// `#[derive(Clone)]` would require `Q: Clone` and `R: Clone`.)
    ///
    /// ```
    /// use shared::channel::request_channel;
    /// use std::time::Duration;
    ///
    /// let (client, server) = request_channel::<(), u64>();
    /// let clone = client.clone();
    /// std::thread::spawn(move || {
    ///     for request in server {
    ///         let id = request.id;
    ///         let _ = request.reply(id);
    ///     }
    /// });
    /// let timeout = Duration::from_secs(10);
    /// assert_eq!(client.request((), timeout), Ok(1));
    /// assert_eq!(clone.request((), timeout), Ok(2)); // one counter for all clones
    /// ```
    fn clone(&self) -> Self {
        Self {
            requests: self.requests.clone(),
            next_id: Arc::clone(&self.next_id),
        }
    }
}

impl<Q, R> fmt::Debug for RequestClient<Q, R> {
    /// Shows how many requests are queued and the next id.
    ///
    /// ```
    /// let (client, _server) = shared::channel::request_channel::<u8, u8>();
    /// assert_eq!(format!("{client:?}"), "RequestClient { queued: 0, next_id: 1 }");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestClient")
            .field("queued", &self.requests.len())
            .field("next_id", &self.next_id.load(Ordering::Relaxed))
            .finish()
    }
}

impl<Q, R> RequestServer<Q, R> {
    /// Waits for the next request. Fails once every client is dropped and the queue is empty.
    ///
    /// ```
    /// use shared::channel::{RecvError, request_channel};
    ///
    /// let (client, server) = request_channel::<u8, u8>();
    /// drop(client);
    /// assert!(matches!(server.recv(), Err(RecvError)));
    /// ```
    pub fn recv(&self) -> Result<Request<Q, R>, RecvError> {
        self.requests.recv()
    }

    /// Like [`recv`](Self::recv), but gives up after `timeout`: for a server loop that also
    /// has to check a [`CancellationToken`](crate::CancellationToken) now and then.
    ///
    /// ```
    /// use shared::channel::{RecvTimeoutError, request_channel};
    /// use std::time::Duration;
    ///
    /// let (_client, server) = request_channel::<u8, u8>();
    /// assert!(matches!(
    ///     server.recv_timeout(Duration::from_millis(1)),
    ///     Err(RecvTimeoutError::Timeout)
    /// ));
    /// ```
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Request<Q, R>, RecvTimeoutError> {
        self.requests.recv_timeout(timeout)
    }

    /// Takes a request if one is queued, without waiting.
    ///
    /// ```
    /// use shared::channel::{TryRecvError, request_channel};
    ///
    /// let (_client, server) = request_channel::<u8, u8>();
    /// assert!(matches!(server.try_recv(), Err(TryRecvError::Empty)));
    /// ```
    pub fn try_recv(&self) -> Result<Request<Q, R>, TryRecvError> {
        self.requests.try_recv()
    }

    /// A blocking iterator over requests that ends when every client is dropped.
    /// `for request in &server` and `for request in server` do the same.
    ///
    /// ```
    /// use shared::channel::request_channel;
    /// use std::time::Duration;
    ///
    /// let (client, server) = request_channel::<i32, i32>();
    /// let worker = std::thread::spawn(move || {
    ///     let mut served = 0;
    ///     for request in server.iter() {
    ///         let negated = -request.body;
    ///         let _ = request.reply(negated);
    ///         served += 1;
    ///     }
    ///     served
    /// });
    /// assert_eq!(client.request(5, Duration::from_secs(10)), Ok(-5));
    /// drop(client);
    /// assert_eq!(worker.join().unwrap(), 1);
    /// ```
    pub fn iter(&self) -> Iter<'_, Request<Q, R>> {
        self.requests.iter()
    }

    /// The crossbeam receiver behind this server, for [`crossbeam_channel::select!`]
    /// (say, requests and a shutdown signal in one loop).
    ///
    /// ```
    /// use crossbeam_channel::select;
    /// use shared::channel::request_channel;
    ///
    /// let (_client, server) = request_channel::<u8, u8>();
    /// let (stop_tx, stop) = crossbeam_channel::bounded::<()>(1);
    /// stop_tx.send(()).unwrap();
    /// select! {
    ///     recv(server.receiver()) -> _request => panic!("no request was sent"),
    ///     recv(stop) -> _ => {} // shut down
    /// }
    /// ```
    pub fn receiver(&self) -> &Receiver<Request<Q, R>> {
        &self.requests
    }
}

impl<Q, R> Clone for RequestServer<Q, R> {
    /// Another server on the same queue: each request goes to exactly one clone.
    ///
    /// ```
    /// use shared::channel::request_channel;
    /// use std::thread;
    /// use std::time::Duration;
    ///
    /// let (client, server) = request_channel::<u32, u32>();
    /// let pool: Vec<_> = (0..2)
    ///     .map(|_| {
    ///         let server = server.clone();
    ///         thread::spawn(move || {
    ///             for request in server {
    ///                 let next = request.body + 1;
    ///                 let _ = request.reply(next);
    ///             }
    ///         })
    ///     })
    ///     .collect();
    /// drop(server);
    /// assert_eq!(client.request(1, Duration::from_secs(10)), Ok(2));
    /// drop(client);
    /// for worker in pool {
    ///     worker.join().unwrap();
    /// }
    /// ```
    fn clone(&self) -> Self {
        Self {
            requests: self.requests.clone(),
        }
    }
}

impl<Q, R> IntoIterator for RequestServer<Q, R> {
    type Item = Request<Q, R>;
    type IntoIter = IntoIter<Request<Q, R>>;

    /// `for request in server`: consumes this server handle.
    ///
    /// ```
    /// let (client, server) = shared::channel::request_channel::<u8, u8>();
    /// drop(client);
    /// assert_eq!(server.into_iter().count(), 0);
    /// ```
    fn into_iter(self) -> Self::IntoIter {
        self.requests.into_iter()
    }
}

impl<'a, Q, R> IntoIterator for &'a RequestServer<Q, R> {
    type Item = Request<Q, R>;
    type IntoIter = Iter<'a, Request<Q, R>>;

    /// `for request in &server`: the same as [`RequestServer::iter`].
    ///
    /// ```
    /// let (client, server) = shared::channel::request_channel::<u8, u8>();
    /// drop(client);
    /// for _request in &server {
    ///     unreachable!("every client is gone and nothing was queued");
    /// }
    /// ```
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<Q, R> fmt::Debug for RequestServer<Q, R> {
    /// Shows how many requests are queued.
    ///
    /// ```
    /// let (_client, server) = shared::channel::request_channel::<u8, u8>();
    /// assert_eq!(format!("{server:?}"), "RequestServer { queued: 0 }");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestServer")
            .field("queued", &self.requests.len())
            .finish()
    }
}

impl<Q, R> Request<Q, R> {
    /// Answers the request: the same as `self.responder.reply(response)`.
    ///
    /// Never waits. Fails, handing the response back, if the caller stopped waiting (it timed
    /// out or its thread ended); a server usually ignores that with `let _ =`, or logs it.
    ///
    /// Compute the answer *before* the call, or use [`reply_with`](Self::reply_with):
    /// `request.reply(request.body * 2)` does not compile, because `reply` takes `request` by
    /// value before its argument is evaluated.
    ///
    /// ```
    /// use shared::channel::request_channel;
    /// use std::time::Duration;
    ///
    /// let (client, server) = request_channel::<u8, u8>();
    /// let worker = std::thread::spawn(move || {
    ///     let request = server.recv().unwrap();
    ///     request.reply(0)
    /// });
    /// assert_eq!(client.request(9, Duration::from_secs(10)), Ok(0));
    /// assert_eq!(worker.join().unwrap(), Ok(()));
    /// ```
    pub fn reply(self, response: R) -> Result<(), CallerGone<R>> {
        self.responder.reply(response)
    }

    /// Computes the response from the request's body and sends it: the usual server loop
    /// body. Fails like [`reply`](Self::reply) if the caller stopped waiting.
    ///
    /// ```
    /// use shared::channel::request_channel;
    /// use std::time::Duration;
    ///
    /// let (client, server) = request_channel::<u32, u32>();
    /// let worker = std::thread::spawn(move || {
    ///     for request in server {
    ///         let _ = request.reply_with(|n| n * 2);
    ///     }
    /// });
    /// assert_eq!(client.request(21, Duration::from_secs(10)), Ok(42));
    /// drop(client); // ends the server loop
    /// worker.join().unwrap();
    /// ```
    pub fn reply_with(self, answer: impl FnOnce(Q) -> R) -> Result<(), CallerGone<R>> {
        let Request {
            body, responder, ..
        } = self;
        responder.reply(answer(body))
    }
}

impl<R> Responder<R> {
    /// The id of the request this responder answers.
    ///
    /// ```
    /// let (client, server) = shared::channel::request_channel::<u8, u8>();
    /// let _ = client.request(1, std::time::Duration::ZERO); // times out, stays queued
    /// let request = server.try_recv().unwrap();
    /// assert_eq!(request.responder.id(), request.id);
    /// ```
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Sends the reply to the one caller waiting for it. Never waits. Fails, handing the
    /// response back, if that caller stopped waiting.
    ///
    /// ```
    /// use shared::channel::{CallerGone, request_channel};
    /// use std::time::Duration;
    ///
    /// let (client, server) = request_channel::<u8, &str>();
    /// let _ = client.request(1, Duration::ZERO); // the caller gives up at once
    /// let responder = server.try_recv().unwrap().responder;
    /// assert_eq!(responder.reply("too late"), Err(CallerGone { id: 1, response: "too late" }));
    /// ```
    pub fn reply(self, response: R) -> Result<(), CallerGone<R>> {
        let id = self.id;
        self.reply_to.send(response).map_err(|err| CallerGone {
            id,
            response: err.into_inner(),
        })
    }
}

impl<R> fmt::Debug for Responder<R> {
    /// Shows the request id.
    ///
    /// ```
    /// let (client, server) = shared::channel::request_channel::<u8, u8>();
    /// let _ = client.request(1, std::time::Duration::ZERO);
    /// let responder = server.try_recv().unwrap().responder;
    /// assert_eq!(format!("{responder:?}"), "Responder { id: 1 }");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Responder").field("id", &self.id).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TIMEOUT, join_within, recv_or_fail};
    use std::collections::HashSet;
    use std::thread;
    use std::time::Instant;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn clients_and_servers_can_be_shared_between_threads() {
        assert_send_sync::<RequestClient<String, Vec<u8>>>();
        assert_send_sync::<RequestServer<String, Vec<u8>>>();
    }

    #[test]
    fn four_threads_sharing_one_client_each_get_their_own_replies() {
        let (client, server) = request_channel::<u64, u64>();
        // Two server threads on one queue answer in an unpredictable order, which is the
        // point: replies must still reach the right callers.
        let servers: Vec<_> = (0..2)
            .map(|_| {
                let server = server.clone();
                thread::spawn(move || {
                    let mut ids = Vec::new();
                    for request in server {
                        ids.push(request.id);
                        let doubled = request.body * 2;
                        request
                            .reply(doubled)
                            .expect("every caller waits for its reply");
                    }
                    ids
                })
            })
            .collect();
        drop(server);

        thread::scope(|s| {
            for t in 0..4u64 {
                // Half the callers borrow the client, half own a clone: both must work.
                let owned = client.clone();
                let client = &client;
                s.spawn(move || {
                    for i in 0..100 {
                        let body = t * 1000 + i;
                        let via = if t % 2 == 0 { client } else { &owned };
                        assert_eq!(via.request(body, TIMEOUT), Ok(body * 2), "request {body}");
                    }
                });
            }
        });
        drop(client);

        let mut ids = HashSet::new();
        for server in servers {
            for id in join_within(server, TIMEOUT, "a server thread").unwrap() {
                assert!(ids.insert(id), "id {id} was handed out twice");
            }
        }
        assert_eq!(ids.len(), 400);
    }

    #[test]
    fn a_late_reply_is_never_returned_to_the_next_call() {
        let (client, server) = request_channel::<u32, u32>();
        let (timed_out_tx, timed_out_rx) = crossbeam_channel::bounded(1);
        let (late_reply_tx, late_reply_rx) = crossbeam_channel::bounded(1);
        let server = thread::spawn(move || {
            let first = recv_or_fail(server.receiver(), "the first request");
            // Hold the first request until its caller has certainly given up.
            recv_or_fail(&timed_out_rx, "the client's timeout");
            let answer = first.body * 2;
            let late = first.reply(answer);
            late_reply_tx.send(late).unwrap();
            let second = recv_or_fail(server.receiver(), "the second request");
            let answer = second.body * 2;
            second.reply(answer).unwrap();
        });

        // The server never answers before the signal below, so this times out whatever the
        // timeout is; a short one only keeps the test quick.
        let first = client.request(10, Duration::from_millis(20));
        assert_eq!(
            first,
            Err(RequestError::Timeout {
                id: 1,
                timeout: Duration::from_millis(20)
            })
        );
        timed_out_tx.send(()).unwrap();
        let late = recv_or_fail(&late_reply_rx, "the late reply to be attempted");
        assert_eq!(
            late,
            Err(CallerGone {
                id: 1,
                response: 20
            })
        );

        // In a design with one shared reply queue, the late 20 would now be waiting there.
        assert_eq!(client.request(30, TIMEOUT), Ok(60));
        join_within(server, TIMEOUT, "the server").unwrap();
    }

    #[test]
    fn a_dropped_request_fails_its_caller_at_once() {
        let (client, server) = request_channel::<u8, u8>();
        let server = thread::spawn(move || {
            let request = recv_or_fail(server.receiver(), "the request");
            drop(request);
            let next = recv_or_fail(server.receiver(), "the next request");
            let Request {
                body, responder, ..
            } = next;
            responder.reply(body).unwrap();
        });
        // TIMEOUT is long: getting `NoReply` rather than `Timeout` shows it came at once.
        assert_eq!(
            client.request(1, TIMEOUT),
            Err(RequestError::NoReply { id: 1 })
        );
        assert_eq!(client.request(2, TIMEOUT), Ok(2), "the client still works");
        join_within(server, TIMEOUT, "the server").unwrap();
    }

    #[test]
    fn a_panicking_server_fails_the_request_it_held() {
        let (client, server) = request_channel::<u8, u8>();
        let server = thread::spawn(move || {
            let _request = recv_or_fail(server.receiver(), "the request");
            panic!("the server crashed while holding a request");
        });
        assert_eq!(
            client.request(1, TIMEOUT),
            Err(RequestError::NoReply { id: 1 })
        );
        assert!(join_within(server, TIMEOUT, "the server").is_err());
        assert_eq!(client.request(2, TIMEOUT), Err(RequestError::ServerGone));
    }

    #[test]
    fn a_server_that_disappears_fails_the_queued_requests() {
        let (client, server) = request_channel::<u8, u8>();
        let caller = thread::spawn(move || client.request(1, TIMEOUT));
        // Wait (with a deadline) until the request is queued; this waits for a state, so it
        // does not depend on how fast the caller thread runs.
        let deadline = Instant::now() + TIMEOUT;
        while server.receiver().is_empty() {
            assert!(Instant::now() < deadline, "the request was never queued");
            thread::yield_now();
        }
        drop(server);
        let result = join_within(caller, TIMEOUT, "the caller").unwrap();
        assert_eq!(result, Err(RequestError::NoReply { id: 1 }));
    }

    #[test]
    fn the_server_loop_ends_when_every_client_is_gone() {
        let (client, server) = request_channel::<u8, u8>();
        let second = client.clone();
        let worker = thread::spawn(move || {
            let mut served = 0;
            for request in &server {
                let echo = request.body;
                request.reply(echo).unwrap();
                served += 1;
            }
            served
        });
        drop(client);
        assert_eq!(
            second.request(7, TIMEOUT),
            Ok(7),
            "a clone keeps the channel open"
        );
        drop(second);
        assert_eq!(join_within(worker, TIMEOUT, "the server loop").unwrap(), 1);
    }

    #[test]
    fn errors_read_well() {
        let timeout = RequestError::Timeout {
            id: 3,
            timeout: Duration::from_millis(5),
        };
        assert_eq!(timeout.to_string(), "no reply to request 3 within 5ms");
        assert_eq!(
            RequestError::ServerGone.to_string(),
            "the server is gone: the request could not be sent"
        );
        let gone = CallerGone {
            id: 4,
            response: (),
        };
        assert_eq!(
            gone.to_string(),
            "the caller of request 4 stopped waiting; the reply was discarded"
        );
    }
}
