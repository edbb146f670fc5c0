//! A real `redis-server` for tests: on a free loopback port, in a temporary directory, without
//! persistence; stopped when dropped. Included by the test binaries with `#[path]`.
//!
//! When `redis-server` is not installed the test fails with one line saying how to install it:
//! it never passes by skipping.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server has to start answering `PING`.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// A running `redis-server` (or a stopped one that can be started again on its port).
pub struct RedisServer {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// `appendonly yes` with `appendfsync always`: what is stored survives a restart.
    persistent: bool,
}

impl RedisServer {
    /// Starts a server on a free port of 127.0.0.1 and waits until it answers.
    ///
    /// # Panics
    ///
    /// With one line naming `apt-get install redis-server` when it is not installed; when it
    /// does not start.
    pub fn start() -> RedisServer {
        Self::start_with(false)
    }

    /// Like [`start`](Self::start), with `appendonly yes` and `appendfsync always`: a restart
    /// keeps what was stored (in the same directory).
    pub fn start_persistent() -> RedisServer {
        Self::start_with(true)
    }

    fn start_with(persistent: bool) -> RedisServer {
        // The free port is found by binding port 0; another process may take it before
        // redis-server does, so a few ports are tried.
        let mut last_log = String::new();
        for _ in 0..5 {
            let port = free_port();
            let mut server = RedisServer {
                port,
                dir: tempfile::tempdir().expect("a temporary directory for redis-server"),
                child: None,
                persistent,
            };
            match server.spawn() {
                Ok(()) => return server,
                Err(log) => last_log = log,
            }
        }
        panic!("redis-server did not start on a free port; its log: {last_log}");
    }

    /// `redis://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server (SIGKILL: as a crash would) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port (empty unless it is persistent).
    ///
    /// # Panics
    ///
    /// When it does not start (another process took the port meanwhile, say).
    pub fn restart(&mut self) {
        self.stop();
        if let Err(log) = self.spawn() {
            panic!(
                "redis-server did not start again on port {}; its log: {log}",
                self.port
            );
        }
    }

    /// Starts `redis-server` on `self.port` and waits for `PONG`; its log when it did not start.
    fn spawn(&mut self) -> Result<(), String> {
        let log_path = self.dir.path().join("redis.log");
        let log = std::fs::File::create(&log_path).expect("a log file for redis-server");
        let spawned = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", if self.persistent { "yes" } else { "no" }])
            .args(["--appendfsync", "always"])
            .arg("--dir")
            .arg(self.dir.path())
            .args(["--daemonize", "no"])
            .args(["--protected-mode", "yes"])
            .args(["--databases", "1"])
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().expect("the log file")))
            .stderr(Stdio::from(log))
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                panic!(
                    "redis-server is not installed; install it with: apt-get install redis-server"
                )
            }
            Err(e) => panic!("cannot run redis-server: {e}"),
        };
        let deadline = Instant::now() + START_TIMEOUT;
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        loop {
            if ping(addr) {
                self.child = Some(child);
                return Ok(());
            }
            let exited = matches!(child.try_wait(), Ok(Some(_)));
            if exited || Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(std::fs::read_to_string(&log_path).unwrap_or_default());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A port of 127.0.0.1 that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port on 127.0.0.1")
        .port()
}

/// Whether a Redis answers `PING` at `addr`.
fn ping(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut answer = [0u8; 7];
    stream.read_exact(&mut answer).is_ok() && &answer == b"+PONG\r\n"
}
