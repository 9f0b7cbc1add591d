use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::ports::free_port;

/// How long a server gets to accept connections. Generous because on a 2-core CI machine the
/// servers start while other test binaries are compiling or running.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
const PORT_ATTEMPTS: usize = 5;
const LOG_TAIL_BYTES: u64 = 4096;

type ArgsFn = dyn Fn(u16) -> Vec<OsString> + Send + Sync;

/// A server child process listening on a loopback port, with outage controls.
///
/// The process is killed when this value is dropped. Handles kept in statics are never dropped, so
/// every child is also tied to the test binary's lifetime (see [`spawn`]).
pub struct ServerProcess {
    program: OsString,
    args: Box<ArgsFn>,
    env: Vec<(OsString, OsString)>,
    port: u16,
    child: Option<Child>,
    stopped: bool,
    log_path: PathBuf,
    _log_dir: TempDir,
}

enum NotReady {
    Exited(ExitStatus),
    TimedOut,
}

impl ServerProcess {
    /// Starts `program` with the arguments `args(port)` for a free loopback port and waits until
    /// that port accepts TCP connections.
    ///
    /// # Panics
    ///
    /// If the binary is missing, or the server neither accepts connections within the timeout nor
    /// manages to start on any of several ports. The message names the binary and shows its output.
    pub fn start(
        program: impl Into<OsString>,
        args: impl Fn(u16) -> Vec<OsString> + Send + Sync + 'static,
    ) -> Self {
        Self::start_with_env(program, Vec::new(), args)
    }

    /// As [`ServerProcess::start`], with extra environment variables (kept across restarts).
    pub fn start_with_env(
        program: impl Into<OsString>,
        env: Vec<(OsString, OsString)>,
        args: impl Fn(u16) -> Vec<OsString> + Send + Sync + 'static,
    ) -> Self {
        let log_dir = tempfile::Builder::new()
            .prefix("stormscope-server-log-")
            .tempdir()
            .expect("create a temp dir for server output");
        let mut server = ServerProcess {
            program: program.into(),
            args: Box::new(args),
            env,
            port: 0,
            child: None,
            stopped: false,
            log_path: log_dir.path().join("output.log"),
            _log_dir: log_dir,
        };
        let mut last_exit = None;
        for _ in 0..PORT_ATTEMPTS {
            server.port = free_port();
            match server.spawn_and_wait(Instant::now() + READY_TIMEOUT) {
                Ok(()) => return server,
                // Most likely another process took the port between free_port() and the bind.
                Err(NotReady::Exited(status)) => last_exit = Some(status),
                Err(NotReady::TimedOut) => server.fail("did not accept connections in time"),
            }
        }
        let status = last_exit.expect("at least one attempt was made");
        server.fail(&format!(
            "exited before listening ({status}), on {PORT_ATTEMPTS} different ports"
        ))
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The process id while the server has not been killed.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Everything the server wrote to stdout and stderr, across restarts.
    pub fn output(&self) -> String {
        fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Hangs the server: the kernel still completes TCP handshakes, but nothing is answered.
    /// Returns once every thread of the server has stopped.
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.signal(libc::SIGSTOP);
        self.wait_until_stopped();
        self.stopped = true;
    }

    /// Undoes [`stop`](Self::stop); requests that arrived meanwhile are then answered.
    pub fn resume(&mut self) {
        self.signal(libc::SIGCONT);
        self.stopped = false;
    }

    /// Takes the server down: SIGKILL and reap, so connections are refused until
    /// [`restart`](Self::restart). Does nothing if the server is already down.
    pub fn kill(&mut self) {
        self.stopped = false;
        if let Some(mut child) = self.child.take() {
            // Errors mean the child already exited, which is the state we want.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the server if it is running and starts it again on the same port with the same
    /// arguments (and so the same data directory, for servers that have one).
    ///
    /// # Panics
    ///
    /// If the server does not accept connections on its port again within the timeout.
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            match self.spawn_and_wait(deadline) {
                Ok(()) => return,
                // The old socket may linger briefly, e.g. for a server that does not set
                // SO_REUSEADDR; keep trying the same port until the deadline.
                Err(NotReady::Exited(_)) if Instant::now() < deadline => {
                    thread::sleep(Duration::from_millis(100));
                }
                Err(NotReady::Exited(status)) => {
                    self.fail(&format!("kept exiting ({status}) instead of coming back"))
                }
                Err(NotReady::TimedOut) => self.fail("did not come back in time"),
            }
        }
    }

    /// Sends SIGHUP (servers reload their configuration on it).
    pub fn hangup(&self) {
        self.signal(libc::SIGHUP);
    }

    /// Sets the running server's file-size limit (RLIMIT_FSIZE) to `bytes`, or lifts it with
    /// `None`: past it, its writes fail (EFBIG) as they would on a full disk, and it ignores
    /// SIGXFSZ if it is to survive that.
    pub fn limit_file_size(&self, bytes: Option<u64>) {
        let pid = self
            .pid()
            .unwrap_or_else(|| panic!("{} is not running (it was killed)", self.name()));
        let limit = bytes.unwrap_or(libc::RLIM_INFINITY);
        let new = libc::rlimit {
            rlim_cur: limit,
            rlim_max: libc::RLIM_INFINITY,
        };
        // SAFETY: prlimit(2) reads `new` and writes nothing (old is null); the pid is our
        // unreaped child's.
        let rc = unsafe {
            libc::prlimit(
                pid as libc::pid_t,
                libc::RLIMIT_FSIZE,
                &new,
                std::ptr::null_mut(),
            )
        };
        assert_eq!(
            rc,
            0,
            "prlimit on {}: {}",
            self.name(),
            std::io::Error::last_os_error()
        );
    }

    fn signal(&self, signal: libc::c_int) {
        let pid = self
            .pid()
            .unwrap_or_else(|| panic!("{} is not running (it was killed)", self.name()));
        let pid = libc::pid_t::try_from(pid).expect("pid fits in pid_t");
        // SAFETY: kill(2) has no memory-safety preconditions. The child has not been reaped (we
        // hold its Child and only wait() in kill()), so the pid cannot have been reused.
        if unsafe { libc::kill(pid, signal) } != 0 {
            panic!(
                "sending signal {signal} to {} (pid {pid}) failed: {}",
                self.name(),
                io::Error::last_os_error()
            );
        }
    }

    /// SIGSTOP is asynchronous: a busy worker thread can still answer a request after kill(2)
    /// returns. The parent is only told of the stop once the whole thread group has stopped.
    fn wait_until_stopped(&mut self) {
        let pid = libc::pid_t::try_from(self.pid().expect("signalled child is running"))
            .expect("pid fits in pid_t");
        let mut status = 0;
        loop {
            // SAFETY: waitpid(2) writes only to `status`, which outlives the call. WUNTRACED
            // reports the stop without reaping; an exit is reaped, handled below.
            let waited = unsafe { libc::waitpid(pid, &raw mut status, libc::WUNTRACED) };
            if waited == pid {
                break;
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                panic!("waiting for {} (pid {pid}) to stop: {err}", self.name());
            }
        }
        if !libc::WIFSTOPPED(status) {
            // Already reaped by the waitpid above, so std must not wait for it again.
            self.child = None;
            panic!(
                "{} (pid {pid}) exited instead of stopping; its output ends with:\n{}",
                self.name(),
                tail(&self.log_path)
            );
        }
    }

    fn spawn_and_wait(&mut self, deadline: Instant) -> Result<(), NotReady> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .expect("open server log file");
        let mut command = Command::new(&self.program);
        command
            .args((self.args)(self.port))
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            // Through pipes, as a service manager or container runtime takes its output: a
            // limit on the server's own file sizes (RLIMIT_FSIZE, a full-disk test) must not
            // cut its log, which the tests read.
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = spawn(command).unwrap_or_else(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                panic!(
                    "{} not found on PATH; run scripts/install-test-deps.sh (scripts/test.sh does)",
                    self.name()
                );
            }
            panic!("cannot start {}: {e}", self.name());
        });
        let out = child.stdout.take().expect("piped stdout");
        let err = child.stderr.take().expect("piped stderr");
        for mut pipe in [Box::new(out) as Box<dyn io::Read + Send>, Box::new(err)] {
            let mut log = log.try_clone().expect("clone log file handle");
            // Ends when the server's end of the pipe closes (it exited or was killed).
            thread::spawn(move || io::copy(&mut pipe, &mut log));
        }
        self.child = Some(child);
        let result = self.wait_until_accepting(deadline);
        if result.is_err() {
            self.kill();
        }
        result
    }

    fn wait_until_accepting(&mut self, deadline: Instant) -> Result<(), NotReady> {
        let addr = self.addr();
        loop {
            let child = self.child.as_mut().expect("child was just spawned");
            if let Some(status) = child.try_wait().expect("poll child status") {
                self.child = None;
                return Err(NotReady::Exited(status));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                // Something accepted; make sure it is our child and not a process that grabbed the
                // port first (in which case our child fails to bind and exits).
                thread::sleep(Duration::from_millis(20));
                let child = self.child.as_mut().expect("child is still tracked");
                if let Some(status) = child.try_wait().expect("poll child status") {
                    self.child = None;
                    return Err(NotReady::Exited(status));
                }
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(NotReady::TimedOut);
            }
            thread::sleep(Duration::from_millis(25));
        }
    }

    fn name(&self) -> String {
        self.program.to_string_lossy().into_owned()
    }

    fn fail(&mut self, what: &str) -> ! {
        self.kill();
        panic!(
            "{} {what} (port {}, timeout {READY_TIMEOUT:?}); its output ends with:\n{}",
            self.name(),
            self.port,
            tail(&self.log_path)
        );
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

impl std::fmt::Debug for ServerProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerProcess")
            .field("program", &self.program)
            .field("addr", &self.addr())
            .field("pid", &self.pid())
            .finish()
    }
}

fn tail(path: &PathBuf) -> String {
    let Ok(mut file) = File::open(path) else {
        return "<no output>".to_owned();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(LOG_TAIL_BYTES)));
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    if bytes.is_empty() {
        "<no output>".to_owned()
    } else {
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

type SpawnRequest = (Command, mpsc::Sender<io::Result<Child>>);

/// Spawns `command` so that the child is SIGKILLed when the test binary exits, however it exits.
///
/// Shared servers live in statics, whose destructors never run, and a panicking or killed test
/// binary runs none either, so Drop alone would leak servers. PR_SET_PDEATHSIG fires when the
/// *thread* that forked the child exits, and every test runs on its own short-lived thread; so all
/// children are forked from one spawner thread that lives as long as the process.
fn spawn(mut command: Command) -> io::Result<Child> {
    static SPAWNER: OnceLock<mpsc::Sender<SpawnRequest>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (requests, incoming) = mpsc::channel::<SpawnRequest>();
        thread::Builder::new()
            .name("server-spawner".to_owned())
            .spawn(move || {
                for (mut command, reply) in incoming {
                    let _ = reply.send(command.spawn());
                }
            })
            .expect("start the server spawner thread");
        requests
    });
    die_with_parent(&mut command);
    let (reply, response) = mpsc::channel();
    spawner
        .send((command, reply))
        .expect("server spawner thread is alive");
    response.recv().expect("server spawner thread replies")
}

#[cfg(target_os = "linux")]
fn die_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt;

    let parent = libc::pid_t::try_from(std::process::id()).expect("pid fits in pid_t");
    // SAFETY: the closure runs between fork and exec and only makes async-signal-safe syscalls
    // (prctl, getppid) and builds io::Errors from raw codes, which does not allocate.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died before prctl took effect; the signal would then never come.
            if libc::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_command: &mut Command) {}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &'static str) -> impl Fn(u16) -> Vec<OsString> + Send + Sync + 'static {
        move |port| {
            vec![
                "-c".into(),
                script.replace("PORT", &port.to_string()).into(),
            ]
        }
    }

    #[test]
    #[should_panic(expected = "no-such-server-binary not found on PATH")]
    fn missing_binary_names_it_and_the_install_script() {
        ServerProcess::start("no-such-server-binary", |_| Vec::new());
    }

    #[test]
    #[should_panic(expected = "it never listens")]
    fn server_that_exits_shows_its_output() {
        ServerProcess::start("sh", sh("echo it never listens >&2; exit 3"));
    }
}
