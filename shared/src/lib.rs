//! The building blocks every lesson of *Worker Threads in Rust* stands on.
//!
//! Each module is one concept, readable on its own:
//!
//! | module | what it is | the Node.js idea it replaces |
//! |---|---|---|
//! | [`worker`] | a named thread with initial data, an inbox and a stream of lifecycle events | `new Worker(file, { workerData })`, `postMessage`, the `online`/`message`/`error`/`exit` events, `terminate()` |
//! | [`channel`] | connected two-way ports, broadcast, request/response with correlation ids | `MessageChannel`/`MessagePort`, `BroadcastChannel`, hand-rolled request maps |
//! | [`cancel`] | a cheap, clonable cancellation token that can be waited on | `worker.terminate()` (forcible in Node, cooperative in Rust) |
//! | [`panics`] | a one-line report, without a backtrace, for a panic a lesson causes on purpose | — |
//! | [`pool`] | a pool of worker threads: bounded queue, handles that always settle, cancellation, timeouts, metrics | piscina, hand-built pools |
//! | [`workload`] | CPU-bound kernels, each sequential and parallel with identical results | the Fibonacci, prime and image workloads of the course |
//! | [`alloc`] | a counting global allocator: bytes and allocations per process, per thread and per closure | `process.memoryUsage()`, `resourceLimits` |
//! | [`timeline`] | spans recorded per thread, drawn as an SVG Gantt chart, a Chrome trace (Perfetto) or one line per thread in the terminal | `node --cpu-prof`, `performance.mark`/`measure` and the DevTools performance panel |
//! | [`timing`] | time one call, compare two measurable times as a ratio, say how busy the machine was | `performance.now()` differences |
//! | [`testing`] | receive-with-timeout and a concurrency probe for tests | — |
//!
//! Nothing here is forcible: Rust cannot kill a thread. Every stop is cooperative, and every
//! blocking call that could wait forever has a form with a timeout.

pub mod alloc;
pub mod cancel;
pub mod channel;
pub mod panics;
pub mod pool;
mod sync;
pub mod testing;
pub mod timeline;
pub mod timing;
pub mod worker;
pub mod workload;

pub use cancel::{CancellationToken, Cancelled};
pub use channel::{
    BroadcastChannel, MessageChannel, MessagePort, Request, RequestClient, RequestError,
    RequestServer, Subscriber, request_channel,
};
pub use pool::WorkerPool;
pub use worker::{Event, Exit, Worker, WorkerContext};
