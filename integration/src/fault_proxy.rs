use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// How often idle connections look at the mode, so a mode change reaches open connections too
/// (clients pool connections; faults that only hit new ones would miss most traffic).
const TICK: Duration = Duration::from_millis(20);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// What a [`FaultProxy`] does to the traffic passing through it. Applies to open connections as
/// well as new ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultMode {
    /// Forward bytes unchanged.
    PassThrough,
    /// Hold every chunk of bytes for this long before forwarding it, in both directions, so a
    /// request/response exchange takes at least twice the delay.
    Latency(Duration),
    /// Abort connections with a TCP RST: new ones right after accepting them, open ones at once.
    Reset,
    /// Accept connections but forward and answer nothing, like a network that drops packets. Bytes
    /// are held, not discarded, so traffic resumes intact when the mode changes back, as TCP
    /// retransmission would make it.
    Blackhole,
}

struct State {
    mode: Mutex<FaultMode>,
    shutdown: AtomicBool,
    target: SocketAddr,
}

impl State {
    fn mode(&self) -> FaultMode {
        *self.mode.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn shutting_down(&self) -> bool {
        self.shutdown.load(Ordering::Relaxed)
    }
}

/// A TCP proxy on a loopback port that forwards to a target and injects network faults.
///
/// Point the code under test at [`addr`](Self::addr) instead of the real server, then switch
/// modes with [`set_mode`](Self::set_mode). Dropping the proxy closes its listener and connections.
pub struct FaultProxy {
    addr: SocketAddr,
    state: Arc<State>,
    acceptor: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Starts a pass-through proxy to `target`.
    pub fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap_or_else(|e| panic!("fault proxy cannot bind 127.0.0.1: {e}"));
        let addr = listener
            .local_addr()
            .expect("bound listener has an address");
        let state = Arc::new(State {
            mode: Mutex::new(FaultMode::PassThrough),
            shutdown: AtomicBool::new(false),
            target,
        });
        let acceptor = {
            let state = Arc::clone(&state);
            thread::Builder::new()
                .name(format!("fault-proxy-{}", addr.port()))
                .spawn(move || accept_loop(&listener, &state))
                .expect("start fault proxy thread")
        };
        FaultProxy {
            addr,
            state,
            acceptor: Some(acceptor),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn target(&self) -> SocketAddr {
        self.state.target
    }

    pub fn mode(&self) -> FaultMode {
        self.state.mode()
    }

    pub fn set_mode(&self, mode: FaultMode) {
        *self
            .state
            .mode
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = mode;
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.state.shutdown.store(true, Ordering::Relaxed);
        // The acceptor is blocked in accept(); a connection wakes it up to see the flag.
        let _ = TcpStream::connect_timeout(&self.addr, CONNECT_TIMEOUT);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("addr", &self.addr)
            .field("target", &self.state.target)
            .field("mode", &self.mode())
            .finish()
    }
}

fn accept_loop(listener: &TcpListener, state: &Arc<State>) {
    for client in listener.incoming() {
        if state.shutting_down() {
            return;
        }
        let Ok(client) = client else { continue };
        let state = Arc::clone(state);
        let _ = thread::Builder::new()
            .name("fault-proxy-conn".to_owned())
            .spawn(move || handle(client, &state));
    }
}

fn handle(client: TcpStream, state: &State) {
    loop {
        if state.shutting_down() {
            return;
        }
        match state.mode() {
            // Not even connecting upstream: a blackholed SYN would never reach the target either.
            FaultMode::Blackhole => thread::sleep(TICK),
            FaultMode::Reset => return reset(&client),
            FaultMode::PassThrough | FaultMode::Latency(_) => break,
        }
    }
    // Refuse the client the way the target refused us.
    let Ok(upstream) = TcpStream::connect_timeout(&state.target, CONNECT_TIMEOUT) else {
        return reset(&client);
    };
    let (Ok(client2), Ok(upstream2)) = (client.try_clone(), upstream.try_clone()) else {
        return reset(&client);
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let dead = Arc::new(AtomicBool::new(false));
    thread::scope(|s| {
        s.spawn(|| pump(client, upstream2, state, &dead));
        pump(upstream, client2, state, &dead);
    });
}

/// Copies `from` to `to` until EOF, applying the current mode to every chunk. `dead` is shared
/// with the opposite direction so a reset seen by either pump tears down both.
fn pump(mut from: TcpStream, mut to: TcpStream, state: &State, dead: &AtomicBool) {
    if from.set_read_timeout(Some(TICK)).is_err() {
        return abort(&from, &to, dead);
    }
    let mut buf = [0; 16 * 1024];
    loop {
        if state.shutting_down() {
            return;
        }
        if dead.load(Ordering::Relaxed) {
            return abort(&from, &to, dead);
        }
        match state.mode() {
            FaultMode::Reset => return abort(&from, &to, dead),
            // Leave the bytes in the kernel buffers; the sender stalls once they fill, as it would
            // behind a real blackhole.
            FaultMode::Blackhole => {
                thread::sleep(TICK);
                continue;
            }
            FaultMode::PassThrough | FaultMode::Latency(_) => {}
        }
        let n = match from.read(&mut buf) {
            Ok(0) => {
                // Half-close, so request/response protocols that signal the end by EOF still work.
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => n,
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => continue,
            // The peer reset us; pass that on to the other side.
            Err(_) => return abort(&from, &to, dead),
        };
        if !deliver(&buf[..n], &mut to, state, dead) {
            return abort(&from, &to, dead);
        }
    }
}

/// Writes `chunk` according to the mode at the time it is due; false if the connection must die.
fn deliver(chunk: &[u8], to: &mut TcpStream, state: &State, dead: &AtomicBool) -> bool {
    loop {
        if state.shutting_down() || dead.load(Ordering::Relaxed) {
            return false;
        }
        match state.mode() {
            FaultMode::PassThrough => return to.write_all(chunk).is_ok(),
            FaultMode::Latency(delay) => {
                thread::sleep(delay);
                return to.write_all(chunk).is_ok();
            }
            FaultMode::Blackhole => thread::sleep(TICK),
            FaultMode::Reset => return false,
        }
    }
}

fn abort(a: &TcpStream, b: &TcpStream, dead: &AtomicBool) {
    dead.store(true, Ordering::Relaxed);
    reset(a);
    reset(b);
}

/// Makes the socket send RST instead of FIN once its last descriptor is closed. Both pumps hold a
/// descriptor of each socket, hence the shared `dead` flag that makes the other one let go.
fn reset(stream: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: the fd is a valid socket owned by `stream` for the duration of the call, and the
    // option value points at a live `linger` of the length passed.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            libc::socklen_t::try_from(size_of::<libc::linger>()).expect("linger size fits"),
        );
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}
