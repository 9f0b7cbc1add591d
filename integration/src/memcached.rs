use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::ops::{Deref, DerefMut};
use std::sync::OnceLock;
use std::time::Duration;

use crate::process::ServerProcess;

/// A memcached server owned by the test.
///
/// Derefs to [`ServerProcess`] for `addr()`, `stop()`, `resume()`, `kill()` and `restart()`.
/// A restarted memcached is empty, as a real one would be.
#[derive(Debug)]
pub struct Memcached {
    process: ServerProcess,
}

impl Memcached {
    pub fn start() -> Self {
        // SAFETY: geteuid(2) cannot fail and has no preconditions.
        let as_root = unsafe { libc::geteuid() } == 0;
        let process = ServerProcess::start("memcached", move |port| {
            let mut args: Vec<std::ffi::OsString> = vec![
                "-l".into(),
                "127.0.0.1".into(),
                "-p".into(),
                port.to_string().into(),
                // UDP is off so that only the TCP port we picked as free is needed.
                "-U".into(),
                "0".into(),
                "-m".into(),
                "64".into(),
            ];
            if as_root {
                // memcached refuses to run as root unless told which user to be.
                args.extend(["-u".into(), "root".into()]);
            }
            args
        });
        Memcached { process }
    }

    pub fn client(&self) -> MemcachedClient {
        MemcachedClient::connect(self.addr())
            .unwrap_or_else(|e| panic!("connect to memcached at {}: {e}", self.addr()))
    }
}

impl Deref for Memcached {
    type Target = ServerProcess;

    fn deref(&self) -> &ServerProcess {
        &self.process
    }
}

impl DerefMut for Memcached {
    fn deref_mut(&mut self) -> &mut ServerProcess {
        &mut self.process
    }
}

/// One memcached per test binary, for tests that only need a working server.
///
/// Never stop or kill it (the `&'static` handle makes that impossible); use distinct keys per test,
/// since tests run in parallel against it.
pub fn shared_memcached() -> &'static Memcached {
    static SHARED: OnceLock<Memcached> = OnceLock::new();
    SHARED.get_or_init(Memcached::start)
}

/// A minimal memcached text-protocol client for exercising the harness itself.
#[derive(Debug)]
pub struct MemcachedClient {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl MemcachedClient {
    /// Default read/write timeout; short enough that a hung server fails a test quickly.
    pub const TIMEOUT: Duration = Duration::from_secs(5);

    pub fn connect(addr: SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect_timeout(&addr, Self::TIMEOUT)?;
        stream.set_nodelay(true)?;
        let client = MemcachedClient {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
        };
        client.set_timeout(Self::TIMEOUT)?;
        Ok(client)
    }

    pub fn set_timeout(&self, timeout: Duration) -> io::Result<()> {
        self.writer.set_read_timeout(Some(timeout))?;
        self.writer.set_write_timeout(Some(timeout))
    }

    pub fn version(&mut self) -> io::Result<String> {
        self.writer.write_all(b"version\r\n")?;
        let line = self.read_line()?;
        line.strip_prefix("VERSION ")
            .map(str::to_owned)
            .ok_or_else(|| unexpected("version", &line))
    }

    pub fn set(&mut self, key: &str, value: &[u8]) -> io::Result<()> {
        check_key(key)?;
        let mut request = format!("set {key} 0 0 {}\r\n", value.len()).into_bytes();
        request.extend_from_slice(value);
        request.extend_from_slice(b"\r\n");
        self.writer.write_all(&request)?;
        let line = self.read_line()?;
        if line == "STORED" {
            Ok(())
        } else {
            Err(unexpected("set", &line))
        }
    }

    /// Sends a `get` without waiting for the answer, so a test can hang the server in between.
    pub fn send_get(&mut self, key: &str) -> io::Result<()> {
        check_key(key)?;
        self.writer.write_all(format!("get {key}\r\n").as_bytes())
    }

    /// Reads the answer to a [`send_get`](Self::send_get).
    pub fn read_get(&mut self) -> io::Result<Option<Vec<u8>>> {
        let line = self.read_line()?;
        if line == "END" {
            return Ok(None);
        }
        // VALUE <key> <flags> <bytes>
        let len: usize = line
            .strip_prefix("VALUE ")
            .and_then(|rest| rest.split(' ').nth(2))
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| unexpected("get", &line))?;
        let mut value = vec![0; len + 2];
        self.reader.read_exact(&mut value)?;
        if !value.ends_with(b"\r\n") {
            return Err(unexpected("get", "value without CRLF terminator"));
        }
        value.truncate(len);
        let end = self.read_line()?;
        if end != "END" {
            return Err(unexpected("get", &end));
        }
        Ok(Some(value))
    }

    pub fn get(&mut self, key: &str) -> io::Result<Option<Vec<u8>>> {
        self.send_get(key)?;
        self.read_get()
    }

    fn read_line(&mut self) -> io::Result<String> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(line.trim_end_matches("\r\n").to_owned())
    }
}

fn check_key(key: &str) -> io::Result<()> {
    // Anything else would let a key inject protocol commands.
    if key.is_empty() || key.len() > 250 || key.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid memcached key {key:?}"),
        ));
    }
    Ok(())
}

fn unexpected(command: &str, answer: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("unexpected memcached answer to {command}: {answer:?}"),
    )
}
