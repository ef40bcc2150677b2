//! Ways for threads to talk: connected two-way ports, broadcast, and request/response.
//!
//! In Node, every worker already has a port (`parentPort`), and extra wiring is built from
//! `MessageChannel`, `BroadcastChannel` and hand-rolled request maps. Rust threads share one
//! address space and have no port of their own, so the wiring is made from channels: a
//! [`crossbeam_channel`] channel is a queue with sending and receiving ends that can live in
//! different threads. Each concept here is a thin layer over such channels, one per module:
//!
//! | module | types | the Node.js idea it replaces |
//! |---|---|---|
//! | [`port`] | [`MessageChannel`], [`MessagePort`] | `new MessageChannel()` → `port1`, `port2`, transferring a port in `transferList` |
//! | [`broadcast`] | [`BroadcastChannel`], [`Subscriber`] | `new BroadcastChannel(name)` |
//! | [`request`] | [`request_channel`], [`RequestClient`], [`RequestServer`], [`Request`] | a `Map` of request id → `resolve` and a `postMessage({ id, ... })` protocol |
//!
//! Three differences from Node run through all of them:
//!
//! * **Messages are moved, not copied.** `postMessage` structured-clones its argument; sending
//!   on a channel moves the value into the queue, so the sender cannot touch it afterwards. No
//!   copy, no serialisation, and the compiler checks that the type may cross threads (`Send`).
//! * **Closing is dropping.** There is no `port.close()`: when the last handle of one side is
//!   dropped, the other side sees a *disconnected* error, and its iterator ends.
//! * **Every wait can have a deadline.** Each blocking receive has a `_timeout` form, because a
//!   thread blocked forever cannot be killed.
//!
//! ```
//! use shared::channel::{BroadcastChannel, MessageChannel, request_channel};
//! use std::thread;
//! use std::time::Duration;
//!
//! // A private two-way line between two threads.
//! let MessageChannel { port1, port2 } = MessageChannel::<String, usize>::new();
//! let counter = thread::spawn(move || {
//!     for text in &port2 {
//!         port2.send(text.len()).unwrap();
//!     }
//! });
//! port1.send("hello".to_owned()).unwrap();
//! assert_eq!(port1.recv(), Ok(5));
//! drop(port1); // closes the line: the loop in the other thread ends
//! counter.join().unwrap();
//!
//! // One announcement, every listener.
//! let news = BroadcastChannel::new();
//! let (a, b) = (news.subscribe(), news.subscribe());
//! assert_eq!(news.send("release 1.0"), 2);
//! assert_eq!((a.recv(), b.recv()), (Ok("release 1.0"), Ok("release 1.0")));
//!
//! // A question that gets its own answer.
//! let (client, server) = request_channel::<u32, u32>();
//! let doubler = thread::spawn(move || {
//!     for request in server {
//!         let answer = request.body * 2;
//!         let _ = request.reply(answer);
//!     }
//! });
//! assert_eq!(client.request(21, Duration::from_secs(10)), Ok(42));
//! drop(client);
//! doubler.join().unwrap();
//! ```

pub mod broadcast;
pub mod port;
pub mod request;

pub use broadcast::{BroadcastChannel, Subscriber};
pub use port::{MessageChannel, MessagePort};
pub use request::{
    CallerGone, Request, RequestClient, RequestError, RequestServer, Responder, request_channel,
};

// A port or subscriber is a pair of crossbeam channel ends, so it fails in exactly the ways a
// crossbeam channel does. Re-exported so that a lesson can name the errors without a second
// `use crossbeam_channel::...` line.
pub use crossbeam_channel::{
    RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError,
};
