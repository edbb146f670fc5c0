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
    /// More arguments for `redis-server` (a cluster node's, TLS).
    extra: Vec<String>,
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
        Self::start_with_args(persistent, |_, _| Vec::new())
    }

    /// Starts a server with more arguments, made from its port and directory.
    pub fn start_with_args(
        persistent: bool,
        extra: impl Fn(u16, &std::path::Path) -> Vec<String>,
    ) -> RedisServer {
        // The free port is found by binding port 0; another process may take it before
        // redis-server does, so a few ports are tried.
        let mut last_log = String::new();
        for _ in 0..5 {
            let port = free_port();
            let dir = tempfile::tempdir().expect("a temporary directory for redis-server");
            let mut server = RedisServer {
                port,
                extra: extra(port, dir.path()),
                dir,
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

    /// Sends `signal` (`STOP`, `CONT`) to the running server: `STOP` freezes it as a stalled
    /// host would, `CONT` lets it go on.
    pub fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("a running redis-server");
        let status = Command::new("kill")
            .args(["-s", signal, &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -s {signal} failed");
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
            .args(&self.extra)
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

/// A port of 127.0.0.1 that was free a moment ago, with its cluster bus port (10,000 above)
/// free too.
pub fn free_port() -> u16 {
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port on 127.0.0.1")
            .port();
        if port < 55_000 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}

/// A Redis Cluster of three masters and three replicas on 127.0.0.1, each node a
/// [`RedisServer`] with `cluster-enabled yes` and a node timeout of 1 s (a master that dies is
/// replaced by its replica within a few seconds); stopped when dropped.
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

/// A cluster node's timeout, in ms: how long a master may not answer before its replica takes
/// over.
pub const NODE_TIMEOUT_MS: u64 = 1000;

impl RedisCluster {
    /// Starts six nodes, joins them with `redis-cli --cluster create … --cluster-replicas 1`
    /// and waits until every node says the cluster is ok.
    ///
    /// # Panics
    ///
    /// With one line naming the package when `redis-server` or `redis-cli` is not installed;
    /// when the cluster does not form.
    pub fn start() -> RedisCluster {
        Self::start_with(|_, _| Vec::new())
    }

    /// Like [`start`](Self::start), with more arguments for every node.
    pub fn start_with(extra: impl Fn(u16, &std::path::Path) -> Vec<String>) -> RedisCluster {
        let cluster = Self::start_nodes(extra);
        cluster.create(&cluster.nodes(), &[]);
        cluster
    }

    /// Starts six nodes with `cluster-enabled yes` (and `extra`), not yet joined.
    pub fn start_nodes(extra: impl Fn(u16, &std::path::Path) -> Vec<String>) -> RedisCluster {
        let nodes: Vec<RedisServer> = (0..6)
            .map(|_| {
                RedisServer::start_with_args(false, |port, dir| {
                    let mut args: Vec<String> = [
                        "--cluster-enabled",
                        "yes",
                        "--cluster-node-timeout",
                        &NODE_TIMEOUT_MS.to_string(),
                        "--cluster-config-file",
                        &dir.join("nodes.conf").to_string_lossy(),
                        // A replica may take over however long it was cut off (the test kills
                        // its master right after writes).
                        "--cluster-replica-validity-factor",
                        "0",
                        // Replicas sync at once (not 5 s later), so that the cluster is whole
                        // when the test begins.
                        "--repl-diskless-sync-delay",
                        "0",
                    ]
                    .map(String::from)
                    .to_vec();
                    args.extend(extra(port, dir));
                    args
                })
            })
            .collect();
        RedisCluster { nodes }
    }

    /// Joins the nodes at `addresses` with `redis-cli [cli_args] --cluster create …
    /// --cluster-replicas 1` and waits until every node says the cluster is ok and each replica
    /// holds its master's data.
    pub fn create(&self, addresses: &[String], cli_args: &[String]) {
        let mut create = Command::new("redis-cli");
        create.args(cli_args).arg("--cluster").arg("create");
        create.args(addresses);
        let created = match create
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
        {
            Ok(output) => output,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                panic!("redis-cli is not installed; install it with: apt-get install redis-tools")
            }
            Err(e) => panic!("cannot run redis-cli: {e}"),
        };
        assert!(
            created.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&created.stdout),
            String::from_utf8_lossy(&created.stderr)
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        // Ok, and every replica holds its master's data (its link is up after the first
        // sync): a failover then loses nothing written before.
        while !self
            .alive()
            .all(|port| cluster_ok(port) && replication_done(port))
        {
            assert!(Instant::now() < deadline, "the cluster did not become ok");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The nodes' addresses, `127.0.0.1:<port>`, for `RedisConfig::cluster`.
    pub fn nodes(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port()))
            .collect()
    }

    /// The nodes' ports, in order.
    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(RedisServer::port).collect()
    }

    /// The ports of the nodes still running.
    fn alive(&self) -> impl Iterator<Item = u16> + '_ {
        self.nodes
            .iter()
            .filter(|n| n.child.is_some())
            .map(RedisServer::port)
    }

    /// The index of the node that is now the master of `key`'s hash slot.
    pub fn master_of(&self, key: &str) -> usize {
        self.try_master_of(key)
            .unwrap_or_else(|nodes| panic!("no master serves {key}'s slot: {nodes}"))
    }

    /// Waits until a node other than `old` is the master of `key`'s slot (a failover); its
    /// index.
    pub fn wait_for_new_master(&self, key: &str, old: usize, limit: Duration) -> usize {
        let deadline = Instant::now() + limit;
        loop {
            match self.try_master_of(key) {
                Ok(master) if master != old => return master,
                _ => assert!(Instant::now() < deadline, "no replica took over from {old}"),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The master of `key`'s slot, or what the cluster says when none serves it.
    fn try_master_of(&self, key: &str) -> Result<usize, String> {
        let port = self.alive().next().expect("a running node");
        let slot: u16 = cli(port, &["CLUSTER", "KEYSLOT", key])
            .trim()
            .parse()
            .expect("a slot number");
        let nodes = cli(port, &["CLUSTER", "NODES"]);
        for line in nodes.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 9 || !fields[2].contains("master") || fields[2].contains("fail") {
                continue;
            }
            let serves = fields[8..].iter().any(|range| {
                let mut ends = range
                    .split('-')
                    .map(|n| n.parse::<u16>().unwrap_or(u16::MAX));
                let first = ends.next().unwrap_or(u16::MAX);
                let last = ends.next().unwrap_or(first);
                (first..=last).contains(&slot)
            });
            if serves {
                let port: u16 = fields[1]
                    .split(['@', ':'])
                    .nth(1)
                    .and_then(|p| p.parse().ok())
                    .expect("a node's port");
                return Ok(self
                    .nodes
                    .iter()
                    .position(|n| n.port() == port)
                    .expect("a node of this cluster"));
            }
        }
        Err(nodes)
    }

    /// The index of a replica of the master at `master`.
    pub fn replica_of(&self, master: usize) -> usize {
        let id = cli(self.nodes[master].port(), &["CLUSTER", "MYID"]);
        let nodes = cli(self.nodes[master].port(), &["CLUSTER", "NODES"]);
        nodes
            .lines()
            .map(|line| line.split_whitespace().collect::<Vec<_>>())
            .filter(|f| f.len() > 3 && f[2].contains("slave") && f[3] == id.trim())
            .find_map(|f| {
                let port: u16 = f[1].split(['@', ':']).nth(1)?.parse().ok()?;
                self.nodes.iter().position(|n| n.port() == port)
            })
            .unwrap_or_else(|| panic!("no replica of node {master}: {nodes}"))
    }

    /// Node `index`, for signals.
    pub fn node(&self, index: usize) -> &RedisServer {
        &self.nodes[index]
    }

    /// SIGKILLs node `index`, as a crash would.
    pub fn kill(&mut self, index: usize) {
        self.nodes[index].stop();
    }

    /// Waits until the running nodes say the cluster is ok again (after a failover).
    pub fn wait_ok(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while !self.alive().all(cluster_ok) {
            assert!(Instant::now() < deadline, "the cluster did not recover");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// `redis-cli -p <port> <args>`'s output.
fn cli(port: u16, args: &[&str]) -> String {
    let output = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Whether the node at `port` is a master with a replica, or a replica whose link to its
/// master is up.
fn replication_done(port: u16) -> bool {
    let info = cli(port, &["INFO", "replication"]);
    if info.contains("role:master") {
        !info.contains("connected_slaves:0")
    } else {
        info.contains("master_link_status:up")
    }
}

/// Whether the node at `port` says `cluster_state:ok`.
fn cluster_ok(port: u16) -> bool {
    cli(port, &["CLUSTER", "INFO"]).contains("cluster_state:ok")
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

/// A Redis the stores' tests run on: one server or a cluster, so that one test body serves
/// both.
pub trait TestRedis {
    /// How a store connects to it.
    fn config(&self) -> wix_inbox::redis::RedisConfig;
}

impl TestRedis for RedisServer {
    fn config(&self) -> wix_inbox::redis::RedisConfig {
        wix_inbox::redis::RedisConfig::single(self.url())
    }
}

impl TestRedis for RedisCluster {
    /// 5 s per operation, not 1: six redis-servers share the test machine's cores with the
    /// rest of the suite (a debug build's 600 concurrent merges on one slot timed out at 1 s
    /// while the whole suite ran).
    fn config(&self) -> wix_inbox::redis::RedisConfig {
        wix_inbox::redis::RedisConfig::cluster(self.nodes()).timeout(Duration::from_secs(5))
    }
}
