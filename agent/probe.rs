//! compartment-probe: the probe agent compartment runs as a short-lived
//! container on an environment's network when the engine is not this
//! machine's, so that readiness waits and lifecycle hooks reach containers
//! from inside the network (their addresses are not routable from the
//! workstation). A single static file, built by build.rs with rustc and
//! shipped inside compartment; it talks only to the address it is given
//! (or the host name: a swarm service's alias).
//!
//!   wait tcp IP PORT TIMEOUT_MS
//!   wait http IP PORT PATH EXPECT TIMEOUT_MS     (EXPECT 0: any 2xx)
//!   request METHOD IP PORT PATH TIMEOUT_MS       (headers in PROBE_HEADERS,
//!                                                 one `Name: value` a line;
//!                                                 the body in PROBE_BODY)
//!
//! `wait` prints `ready` (exit 0) or `last: ANSWER` (exit 1) once its time
//! is up; `request` prints the status code on the first line and up to
//! 4 KiB of the body (exit 0), or `error: REASON` (exit 2). The `relay`,
//! `job`, `volume-rm` and `exec` commands (what runs on another swarm
//! node) are in transfer.rs.

mod transfer;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

const ATTEMPT: Duration = Duration::from_secs(1);
const RETRY: Duration = Duration::from_millis(100);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let code = match words.as_slice() {
        ["wait", "tcp", ip, port, timeout] => wait(timeout, || tcp(ip, port)),
        ["wait", "http", ip, port, path, expect, timeout] => {
            let expect: u16 = expect.parse().unwrap_or(0);
            wait(timeout, || http_status(ip, port, path, expect))
        }
        ["request", method, ip, port, path, timeout] => request(method, ip, port, path, timeout),
        ["relay", mode, port, dir, token] => transfer::relay(mode, port, dir, token),
        ["job", mode, host, port, dir, token, "--", command @ ..] => {
            let command: Vec<String> = command.iter().map(|c| c.to_string()).collect();
            transfer::job(mode, host, port, dir, token, &command)
        }
        ["volume-rm", socket, name] => transfer::volume_rm(socket, name),
        ["exec", socket, container, "--", command @ ..] => {
            let command: Vec<String> = command.iter().map(|c| c.to_string()).collect();
            transfer::exec(socket, container, &command)
        }
        _ => {
            println!("error: usage: wait tcp IP PORT MS | wait http IP PORT PATH EXPECT MS | request METHOD IP PORT PATH MS | relay receive|send PORT DIR TOKEN_FILE | job backup|restore HOST PORT DIR TOKEN_FILE -- COMMAND... | volume-rm SOCKET NAME | exec SOCKET CONTAINER -- COMMAND...");
            2
        }
    };
    std::process::exit(code);
}

/// `ip` may also be a host name (a swarm service's alias, resolved by the
/// network's DNS: one of its tasks).
fn address(ip: &str, port: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = format!("{ip}:{port}").parse() {
        return Ok(addr);
    }
    let port: u16 = port
        .parse()
        .map_err(|_| format!("`{port}` is not a port"))?;
    (ip, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve `{ip}`: {e}"))?
        .next()
        .ok_or_else(|| format!("`{ip}` resolves to no address"))
}

fn connect(ip: &str, port: &str, timeout: Duration) -> Result<TcpStream, String> {
    let addr = address(ip, port)?;
    TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string())
}

fn wait(timeout_ms: &str, mut attempt: impl FnMut() -> Result<(), String>) -> i32 {
    let limit = Duration::from_millis(timeout_ms.parse().unwrap_or(30_000));
    let started = Instant::now();
    let mut last = String::from("no attempt made");
    while started.elapsed() < limit {
        match attempt() {
            Ok(()) => {
                println!("ready");
                return 0;
            }
            Err(e) => last = e,
        }
        std::thread::sleep(RETRY.min(limit.saturating_sub(started.elapsed())));
    }
    println!("last: {last}");
    1
}

fn tcp(ip: &str, port: &str) -> Result<(), String> {
    connect(ip, port, ATTEMPT).map(|_| ())
}

/// One HTTP/1.1 exchange: (status, body).
fn exchange(
    ip: &str,
    port: &str,
    head: &str,
    body: &[u8],
    timeout: Duration,
) -> Result<(u16, Vec<u8>), String> {
    let mut s = connect(ip, port, ATTEMPT.min(timeout))?;
    s.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    s.write_all(head.as_bytes()).map_err(|e| e.to_string())?;
    s.write_all(body).map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    match s.read_to_end(&mut raw) {
        Ok(_) => {}
        Err(e) if raw.is_empty() => return Err(e.to_string()),
        Err(_) => {}
    }
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| "no HTTP answer".to_string())?;
    let start = raw.windows(4).position(|w| w == b"\r\n\r\n").map_or(raw.len(), |i| i + 4);
    Ok((status, raw[start..].to_vec()))
}

fn http_status(ip: &str, port: &str, path: &str, expect: u16) -> Result<(), String> {
    let head = format!("GET {path} HTTP/1.1\r\nHost: {ip}:{port}\r\nConnection: close\r\n\r\n");
    let (status, body) = exchange(ip, port, &head, b"", ATTEMPT)?;
    let ok = match expect {
        0 => (200..300).contains(&status),
        want => status == want,
    };
    if ok {
        return Ok(());
    }
    let body = String::from_utf8_lossy(&body);
    let body: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    Err(match body.is_empty() {
        true => format!("HTTP {status}"),
        false => format!("HTTP {status}: {body}"),
    })
}

fn request(method: &str, ip: &str, port: &str, path: &str, timeout_ms: &str) -> i32 {
    let timeout = Duration::from_millis(timeout_ms.parse().unwrap_or(30_000));
    let body = std::env::var("PROBE_BODY").unwrap_or_default();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {ip}:{port}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for line in std::env::var("PROBE_HEADERS").unwrap_or_default().lines() {
        if line.contains(':') && !line.contains('\r') {
            head.push_str(line);
            head.push_str("\r\n");
        }
    }
    head.push_str("\r\n");
    match exchange(ip, port, &head, body.as_bytes(), timeout) {
        Ok((status, body)) => {
            println!("{status}");
            let end = body.len().min(4096);
            print!("{}", String::from_utf8_lossy(&body[..end]));
            0
        }
        Err(e) => {
            println!("error: {e}");
            2
        }
    }
}
