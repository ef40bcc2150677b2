//! Lesson support, not a lesson (cargo builds only `examples/*.rs` as examples): the tiny
//! loopback HTTP server and client of lessons l3-33 and l3-36, which include it with
//! `#[path = "support/http.rs"] mod http;`. Enough HTTP/1.1 for health probes and a metrics
//! scraper, which send one small `GET` per connection: requests are answered one at a time, on
//! the thread that calls [`serve`].

use anyhow::{Context, bail};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How long a request may take to arrive, or a response to be read, before giving up.
const IO_TIMEOUT: Duration = Duration::from_secs(2);
/// The largest request head the server reads.
const MAX_REQUEST: usize = 8 * 1024;

/// The accept loop: each request's method and path go to `route`, which returns the status and
/// the body. Ends when `stop` is set and a connection wakes it (see [`stop`]).
pub fn serve(
    listener: TcpListener,
    stop: &AtomicBool,
    route: impl Fn(&str, &str) -> (u16, String),
) {
    for stream in listener.incoming() {
        if stop.load(Ordering::Acquire) {
            break;
        }
        let outcome = stream.map_err(Into::into).and_then(|s| answer(s, &route));
        if let Err(e) = outcome {
            eprintln!("[http] request failed: {e:#}");
        }
    }
    println!("[http] stopped listening");
}

/// Stops a server started with [`serve`]: sets its flag, then wakes its `accept` with a
/// connection (a blocked `accept` has no other way to notice the flag).
pub fn stop(addr: SocketAddr, stop: &AtomicBool) {
    stop.store(true, Ordering::Release);
    let _ = TcpStream::connect_timeout(&addr, IO_TIMEOUT);
}

/// Reads one request head and writes the response.
fn answer(
    mut stream: TcpStream,
    route: impl Fn(&str, &str) -> (u16, String),
) -> anyhow::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut head = Vec::new();
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() > MAX_REQUEST {
            return respond(&mut stream, 431, "request head too large\n");
        }
        let n = stream.read(&mut chunk).context("reading the request")?;
        if n == 0 {
            bail!("the client closed the connection mid-request");
        }
        head.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    let mut words = head.lines().next().unwrap_or_default().split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let (status, body) = route(method, path);
    respond(&mut stream, status, &body)
}

fn respond(stream: &mut TcpStream, status: u16, body: &str) -> anyhow::Result<()> {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "",
    };
    let len = body.len();
    write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {len}\r\n\
         Connection: close\r\n\r\n{body}"
    )
    .context("writing the response")?;
    stream.flush().context("writing the response")
}

/// A one-shot request over loopback, as a probe or a scraper sends it: the status and the body.
pub fn request(addr: SocketAddr, method: &str, path: &str) -> anyhow::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
        .with_context(|| format!("could not connect to {addr}"))?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .with_context(|| format!("reading the response to {method} {path}"))?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .with_context(|| format!("a malformed response to {method} {path}: {response:?}"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok());
    let status = status.with_context(|| format!("no status code in {head:?}"))?;
    Ok((status, body.to_owned()))
}
