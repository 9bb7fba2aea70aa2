//! Moving an operation's files between swarm nodes, and removing a volume
//! on a node, for the operations that must run where a resource's volumes
//! are (docker::swarm_job). Two ends meet on the environment's overlay
//! network:
//!
//!   relay receive|send PORT DIR TOKEN_FILE
//!       on the manager, in a container whose DIR compartment copies files
//!       out of (after a backup) or into (before a restore) through the
//!       engine's archive API. It accepts connections on PORT until one
//!       presents the token, then receives DIR from it or sends DIR to it,
//!       and exits 0 once the peer confirmed.
//!   job backup|restore HOST PORT DIR TOKEN_FILE -- COMMAND...
//!       in the one-shot task on the resource's node: `restore` fetches DIR
//!       from the relay and then runs COMMAND; `backup` runs COMMAND and,
//!       when it succeeded, sends DIR to the relay. Exits with COMMAND's
//!       code (125 when the files could not travel).
//!   volume-rm SOCKET NAME
//!       removes volume NAME through the engine socket SOCKET (absent is
//!       fine).
//!   exec SOCKET CONTAINER -- COMMAND...
//!       runs COMMAND in CONTAINER through the engine socket (no terminal,
//!       no input), its output on stdout and stderr, its exit code ours.
//!
//! On the wire, after the token line: one `F LEN PATH\n` header and LEN
//! bytes per regular file (PATH relative, `/`-separated), `E\n` at the end,
//! answered by `OK\n`. Nothing else is accepted: a path leaving DIR, a
//! short file or a missing end fails the transfer.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a job keeps trying to reach the relay.
const REACH_RELAY: Duration = Duration::from_secs(60);
/// How long a token line may take to arrive.
const HELLO: Duration = Duration::from_secs(10);
/// The exit code of a job whose files could not travel.
const TRANSFER_FAILED: i32 = 125;

pub fn relay(mode: &str, port: &str, dir: &str, token_file: &str) -> i32 {
    let outcome = read_token(token_file).and_then(|token| {
        let listener = TcpListener::bind(("0.0.0.0", port.parse().map_err(|_| "bad port")?))
            .map_err(|e| format!("cannot listen on {port}: {e}"))?;
        loop {
            let (stream, peer) = listener.accept().map_err(|e| e.to_string())?;
            match hello(&stream, &token) {
                Ok(()) => return serve(mode, stream, Path::new(dir)),
                Err(e) => eprintln!("refused {peer}: {e}"),
            }
        }
    });
    match outcome {
        Ok(summary) => {
            println!("{summary}");
            0
        }
        Err(e) => {
            println!("error: {e}");
            1
        }
    }
}

fn serve(mode: &str, stream: TcpStream, dir: &Path) -> Result<String, String> {
    stream.set_read_timeout(None).map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
    let mut writer = stream;
    match mode {
        "receive" => {
            let (files, bytes) = receive_files(&mut reader, dir)?;
            writer.write_all(b"OK\n").map_err(|e| e.to_string())?;
            Ok(format!("received {files} file(s), {bytes} bytes"))
        }
        "send" => {
            let (files, bytes) = send_files(&mut writer, dir)?;
            expect_ok(&mut reader)?;
            Ok(format!("sent {files} file(s), {bytes} bytes"))
        }
        other => Err(format!("unknown relay mode `{other}`")),
    }
}

pub fn job(mode: &str, host: &str, port: &str, dir: &str, token_file: &str, command: &[String]) -> i32 {
    let dir = Path::new(dir);
    if mode == "restore" {
        if let Err(e) = with_relay(host, port, token_file, |reader, writer| {
            receive_files(reader, dir)?;
            writer.write_all(b"OK\n").map_err(|e| e.to_string())
        }) {
            eprintln!("compartment: could not fetch the backup's files: {e}");
            wipe(dir);
            return TRANSFER_FAILED;
        }
    }
    let code = match run(command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("compartment: could not run {command:?}: {e}");
            wipe(dir);
            return 127;
        }
    };
    let sent = match mode == "backup" && code == 0 {
        true => with_relay(host, port, token_file, |reader, writer| {
            send_files(writer, dir)?;
            expect_ok(reader)
        }),
        false => Ok(()),
    };
    // The files are plaintext: none stays on the node.
    wipe(dir);
    if let Err(e) = sent {
        eprintln!("compartment: could not send the backup's files: {e}");
        return TRANSFER_FAILED;
    }
    code
}

/// Removes what `dir` holds (best effort), keeping `dir`.
fn wipe(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let _ = match entry.file_type().map(|t| t.is_dir()) {
            Ok(true) => std::fs::remove_dir_all(&path),
            _ => std::fs::remove_file(&path),
        };
    }
}

fn run(command: &[String]) -> std::io::Result<i32> {
    let (program, args) = command
        .split_first()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "no command"))?;
    let status = std::process::Command::new(program).args(args).status()?;
    Ok(status.code().unwrap_or(128))
}

/// Connects to the relay (retrying while it starts), presents the token
/// and hands the connection to `talk`.
fn with_relay(
    host: &str,
    port: &str,
    token_file: &str,
    talk: impl FnOnce(&mut BufReader<TcpStream>, &mut TcpStream) -> Result<(), String>,
) -> Result<(), String> {
    let token = read_token(token_file)?;
    let started = Instant::now();
    let mut stream = loop {
        match super::connect(host, port, Duration::from_secs(2)) {
            Ok(s) => break s,
            Err(e) if started.elapsed() >= REACH_RELAY => {
                return Err(format!("cannot reach the relay at {host}:{port}: {e}"))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(250)),
        }
    };
    stream
        .write_all(format!("{token}\n").as_bytes())
        .map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
    talk(&mut reader, &mut stream)
}

fn read_token(file: &str) -> Result<String, String> {
    let token = std::fs::read_to_string(file).map_err(|e| format!("cannot read {file}: {e}"))?;
    let token = token.trim().to_string();
    match token.len() >= 32 {
        true => Ok(token),
        false => Err(format!("{file} holds no token")),
    }
}

/// Reads the peer's token line (within [`HELLO`]) and compares it.
fn hello(stream: &TcpStream, token: &str) -> Result<(), String> {
    stream
        .set_read_timeout(Some(HELLO))
        .map_err(|e| e.to_string())?;
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while line.len() <= 256 {
        let mut s = stream;
        match s.read(&mut byte) {
            Ok(1) if byte[0] == b'\n' => break,
            Ok(1) => line.push(byte[0]),
            Ok(_) => return Err("closed before the token".into()),
            Err(e) => return Err(e.to_string()),
        }
    }
    let same = line.len() == token.len()
        && line
            .iter()
            .zip(token.as_bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    match same {
        true => Ok(()),
        false => Err("wrong token".into()),
    }
}

fn expect_ok(reader: &mut impl BufRead) -> Result<(), String> {
    let mut line = String::new();
    reader.read_line(&mut line).map_err(|e| e.to_string())?;
    match line.as_str() {
        "OK\n" => Ok(()),
        _ => Err("the other end did not confirm".into()),
    }
}

/// The regular files under `dir`, sorted, relative to it.
fn files_under(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| format!("{}: {e}", d.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| e.to_string())?;
            let kind = entry.file_type().map_err(|e| e.to_string())?;
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() {
                let rel = entry.path().strip_prefix(dir).map_err(|e| e.to_string())?.to_path_buf();
                out.push(rel);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn send_files(writer: &mut impl Write, dir: &Path) -> Result<(usize, u64), String> {
    let files = files_under(dir)?;
    let mut bytes = 0;
    for rel in &files {
        let path = dir.join(rel);
        let mut file = std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let len = file.metadata().map_err(|e| e.to_string())?.len();
        let name = rel.to_str().ok_or("a file name that is not UTF-8")?;
        if name.contains('\n') {
            return Err(format!("a file name with a line break: {name:?}"));
        }
        writer
            .write_all(format!("F {len} {name}\n").as_bytes())
            .map_err(|e| e.to_string())?;
        let copied = std::io::copy(&mut (&mut file).take(len), writer).map_err(|e| e.to_string())?;
        if copied != len {
            return Err(format!("{name} shrank while it was sent"));
        }
        bytes += len;
    }
    writer.write_all(b"E\n").map_err(|e| e.to_string())?;
    writer.flush().map_err(|e| e.to_string())?;
    Ok((files.len(), bytes))
}

fn receive_files(reader: &mut impl BufRead, dir: &Path) -> Result<(usize, u64), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (mut files, mut bytes) = (0, 0);
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).map_err(|e| e.to_string())?;
        if line == "E\n" {
            return Ok((files, bytes));
        }
        let header = line
            .strip_prefix("F ")
            .and_then(|l| l.strip_suffix('\n'))
            .and_then(|l| l.split_once(' '))
            .ok_or("the transfer ended early")?;
        let len: u64 = header.0.parse().map_err(|_| "a bad file header")?;
        let rel = Path::new(header.1);
        let inside = rel.components().all(|c| matches!(c, Component::Normal(_)));
        if !inside || header.1.is_empty() {
            return Err(format!("`{}` is outside the directory", header.1));
        }
        let target = dir.join(rel);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        let mut file = private_file(&target).map_err(|e| format!("{}: {e}", target.display()))?;
        let copied = std::io::copy(&mut reader.take(len), &mut file).map_err(|e| e.to_string())?;
        if copied != len {
            return Err(format!("{} arrived short", header.1));
        }
        file.sync_all().map_err(|e| e.to_string())?;
        files += 1;
        bytes += len;
    }
}

fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

/// `DELETE /volumes/NAME` on the engine's socket: 204 or 404 is success;
/// a volume still in use (its container not yet removed after its task
/// ended) is asked for again for up to a minute.
pub fn volume_rm(socket: &str, name: &str) -> i32 {
    let started = Instant::now();
    loop {
        let code = volume_rm_once(socket, name);
        if code != 409 || started.elapsed() >= Duration::from_secs(60) {
            return code.min(1);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// One removal: 0, 1, or 409 (in use).
fn volume_rm_once(socket: &str, name: &str) -> i32 {
    use std::os::unix::net::UnixStream;
    let answer = (|| -> Result<String, String> {
        let mut s = UnixStream::connect(socket).map_err(|e| format!("{socket}: {e}"))?;
        s.set_read_timeout(Some(Duration::from_secs(60)))
            .map_err(|e| e.to_string())?;
        let head = format!("DELETE /volumes/{name} HTTP/1.0\r\nHost: docker\r\n\r\n");
        s.write_all(head.as_bytes()).map_err(|e| e.to_string())?;
        let mut raw = String::new();
        s.read_to_string(&mut raw).map_err(|e| e.to_string())?;
        Ok(raw)
    })();
    let raw = match answer {
        Ok(raw) => raw,
        Err(e) => {
            println!("error: {e}");
            return 1;
        }
    };
    let status = raw.split_whitespace().nth(1).unwrap_or("");
    match status {
        "204" => {
            println!("removed {name}");
            0
        }
        "404" => {
            println!("absent {name}");
            0
        }
        _ => {
            let body = raw.split("\r\n\r\n").nth(1).unwrap_or("").trim();
            println!("error: HTTP {status}: {body}");
            match status {
                "409" => 409,
                _ => 1,
            }
        }
    }
}

/// Runs COMMAND in container CONTAINER through the engine socket SOCKET
/// (an exec without a terminal or input), its output on this process's
/// stdout and stderr; exits with its exit code.
pub fn exec(socket: &str, container: &str, command: &[String]) -> i32 {
    match exec_in(socket, container, command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("compartment: could not run the command in {container}: {e}");
            TRANSFER_FAILED
        }
    }
}

fn exec_in(socket: &str, container: &str, command: &[String]) -> Result<i32, String> {
    let cmd: Vec<String> = command.iter().map(|c| json_string(c)).collect();
    let body = format!(
        "{{\"AttachStdout\":true,\"AttachStderr\":true,\"Cmd\":[{}]}}",
        cmd.join(",")
    );
    let created = engine(socket, "POST", &format!("/containers/{container}/exec"), &body)?;
    let id = json_field(&created, "Id").ok_or_else(|| format!("no exec created: {created}"))?;
    let mut s = std::os::unix::net::UnixStream::connect(socket).map_err(|e| e.to_string())?;
    let start = "{\"Detach\":false,\"Tty\":false}";
    let head = format!(
        "POST /exec/{id}/start HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n{start}",
        start.len()
    );
    s.write_all(head.as_bytes()).map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(s);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).map_err(|e| e.to_string())? == 0 || line == "\r\n" {
            break;
        }
    }
    // The multiplexed stream: an 8-byte header (stream, 0, 0, 0, length
    // big-endian) before each chunk.
    let mut header = [0u8; 8];
    while reader.read_exact(&mut header).is_ok() {
        let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as u64;
        let mut chunk = Vec::new();
        (&mut reader)
            .take(len)
            .read_to_end(&mut chunk)
            .map_err(|e| e.to_string())?;
        let _ = match header[0] {
            2 => std::io::stderr().write_all(&chunk),
            _ => std::io::stdout().write_all(&chunk),
        };
    }
    let _ = std::io::stdout().flush();
    let inspected = engine(socket, "GET", &format!("/exec/{id}/json"), "")?;
    json_field(&inspected, "ExitCode")
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no exit code: {inspected}"))
}

/// One request on the engine socket; the body of a 2xx answer.
fn engine(socket: &str, method: &str, path: &str, body: &str) -> Result<String, String> {
    let mut s = std::os::unix::net::UnixStream::connect(socket).map_err(|e| format!("{socket}: {e}"))?;
    let head = format!(
        "{method} {path} HTTP/1.0\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(head.as_bytes()).map_err(|e| e.to_string())?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).map_err(|e| e.to_string())?;
    let status = raw.split_whitespace().nth(1).unwrap_or("");
    let answer = raw.split("\r\n\r\n").nth(1).unwrap_or("").trim().to_string();
    match status.starts_with('2') {
        true => Ok(answer),
        false => Err(format!("HTTP {status}: {answer}")),
    }
}

/// `text` as a JSON string.
fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The value of a top-level scalar field of a small JSON object (a string
/// without escapes, or a number).
fn json_field(json: &str, name: &str) -> Option<String> {
    let at = json.find(&format!("\"{name}\":"))? + name.len() + 3;
    let rest = json[at..].trim_start();
    match rest.strip_prefix('"') {
        Some(s) => Some(s[..s.find('"')?].to_string()),
        None => {
            let end = rest.find([',', '}']).unwrap_or(rest.len());
            Some(rest[..end].trim().to_string())
        }
    }
}
