//! A long-running `wix-inbox` process (`webhook relay`, `events work`) for the tests: started
//! with no proxy and no Redis from the environment, its first line of stdout awaited (bounded),
//! its stderr collected; killed when dropped.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_wix-inbox");

/// How long a process has to print its first line.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Whatever proxy the test's environment names, the child talks to 127.0.0.1 directly.
pub(crate) fn direct(cmd: &mut Command) -> &mut Command {
    for var in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("NO_PROXY", "127.0.0.1,localhost")
}

/// A running `wix-inbox` process, killed when dropped.
pub(crate) struct CliProcess {
    pub(crate) child: Child,
    /// The first line of stdout.
    pub(crate) line: String,
    /// Its stderr so far (all of it once [`wait_exit`](Self::wait_exit) returned).
    pub(crate) stderr: Arc<Mutex<String>>,
    /// The thread that reads stderr, until the process closes it.
    stderr_reader: Option<std::thread::JoinHandle<()>>,
}

impl CliProcess {
    /// Starts `wix-inbox <args>` and waits (bounded) for its first line of stdout.
    pub(crate) fn start(args: &[&str]) -> CliProcess {
        let mut cmd = Command::new(BIN);
        for var in [
            "WIX_INBOX_REDIS_URL",
            "WIX_INBOX_REDIS_CLUSTER",
            "WIX_INBOX_SIGNING_SECRET",
        ] {
            cmd.env_remove(var);
        }
        direct(&mut cmd)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("the binary runs");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        let stderr_reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let line = rx.recv_timeout(START_TIMEOUT).unwrap_or_else(|_| {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`wix-inbox {}` printed no first line within {START_TIMEOUT:?}; stderr: {}",
                args.join(" "),
                stderr.lock().unwrap()
            )
        });
        CliProcess {
            child,
            line,
            stderr,
            stderr_reader: Some(stderr_reader),
        }
    }

    /// Sends SIGTERM (`kill`, from util-linux: on every Debian).
    pub(crate) fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Waits (bounded) for the process to exit, and for the last of its stderr: a line it
    /// wrote just before exiting may still be in the pipe when it exits.
    pub(crate) fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                if let Some(reader) = self.stderr_reader.take() {
                    let _ = reader.join();
                }
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the process did not exit within {timeout:?}; stderr: {}",
                self.stderr.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills it (SIGKILL, as a crash would) and waits for it to exit.
    pub(crate) fn crash(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Whether the process is still running.
    pub(crate) fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// The address of `/metrics` its first line gives (`metrics on http://ADDR/metrics`).
    pub(crate) fn metrics_addr(&self) -> String {
        self.line
            .split("metrics on http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_else(|| panic!("no metrics address in {:?}", self.line))
            .to_owned()
    }
}

impl Drop for CliProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
