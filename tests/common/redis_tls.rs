//! Redis over TLS for tests: certificates of the test's own authority (rcgen), the arguments
//! that make `redis-server` take TLS, and a Redis Cluster whose nodes speak only TLS to each
//! other and to clients. Included with `#[path]` beside `redis_server.rs` by the binaries that
//! need it.

#![allow(dead_code)]

use std::time::Duration;

use crate::redis_server::{free_port, RedisCluster, TestRedis};

/// A [`RedisCluster`] whose nodes speak TLS ([`TlsCluster::start`]); stopped when dropped.
pub struct TlsCluster {
    cluster: RedisCluster,
    tls_ports: Vec<u16>,
    ca_pem: String,
    _certificates: tempfile::TempDir,
}

impl TlsCluster {
    /// A cluster whose nodes take TLS on ports of their own, with a certificate of the test's
    /// authority: clients (`rediss://`), the cluster bus (`tls-cluster yes`) and replication
    /// (`tls-replication yes`). Each node keeps a plain port too, for the test's own checks.
    pub fn start() -> TlsCluster {
        let certificates = tempfile::tempdir().expect("a temporary directory for certificates");
        let ca_pem = certificates_in(certificates.path());
        let tls_ports = std::sync::Mutex::new(std::collections::HashMap::new());
        let cluster = RedisCluster::start_nodes(|port, _| {
            let tls_port = free_port();
            tls_ports.lock().unwrap().insert(port, tls_port);
            let mut args = tls_args(certificates.path(), tls_port);
            args.extend(
                [
                    "--tls-cluster",
                    "yes",
                    "--tls-replication",
                    "yes",
                    // The bus's port stays the plain port's + 10,000, which was found free.
                    "--cluster-port",
                    &(port + 10_000).to_string(),
                ]
                .map(String::from),
            );
            args
        });
        let tls_ports = tls_ports.into_inner().unwrap();
        let tls_ports: Vec<u16> = cluster.ports().iter().map(|p| tls_ports[p]).collect();
        let addresses: Vec<String> = tls_ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let ca_file = certificates.path().join("ca.pem");
        cluster.create(
            &addresses,
            &[
                "--tls".into(),
                "--cacert".into(),
                ca_file.to_string_lossy().into(),
            ],
        );
        TlsCluster {
            cluster,
            tls_ports,
            ca_pem,
            _certificates: certificates,
        }
    }

    /// The nodes' TLS ports.
    pub fn tls_ports(&self) -> &[u16] {
        &self.tls_ports
    }

    /// The PEM of the authority that issued the nodes' certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The cluster under TLS (its nodes' plain ports).
    pub fn cluster(&self) -> &RedisCluster {
        &self.cluster
    }
}

/// A certificate authority and a certificate for 127.0.0.1 it issued, written to `dir`
/// (`ca.pem`, `server.pem`, `server.key`); the authority's PEM.
pub fn certificates_in(dir: &std::path::Path) -> String {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "wix-inbox test authority");
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    // Its own name: with the authority's (rcgen's default for both), OpenSSL (redis-server's
    // replication and cluster bus, redis-cli) takes it for self-signed and refuses it.
    let mut server = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    server
        .distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    let server = server.signed_by(&key, &ca).unwrap();
    let ca_pem = ca.as_ref().pem();
    std::fs::write(dir.join("ca.pem"), &ca_pem).unwrap();
    std::fs::write(dir.join("server.pem"), server.pem()).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
    ca_pem
}

/// `redis-server`'s arguments to take TLS on `tls_port` with the certificates
/// [`certificates_in`] wrote to `dir` (clients need no certificate of their own).
pub fn tls_args(dir: &std::path::Path, tls_port: u16) -> Vec<String> {
    let file = |name: &str| dir.join(name).to_string_lossy().into_owned();
    vec![
        "--tls-port".into(),
        tls_port.to_string(),
        "--tls-cert-file".into(),
        file("server.pem"),
        "--tls-key-file".into(),
        file("server.key"),
        "--tls-ca-cert-file".into(),
        file("ca.pem"),
        "--tls-auth-clients".into(),
        "no".into(),
    ]
}

impl TestRedis for TlsCluster {
    /// `rediss://` to every node's TLS port, trusting the test's authority; 5 s per operation
    /// as for [`RedisCluster`].
    fn config(&self) -> wix_inbox::redis::RedisConfig {
        wix_inbox::redis::RedisConfig::cluster(
            self.tls_ports
                .iter()
                .map(|port| format!("rediss://127.0.0.1:{port}")),
        )
        .root_certificate(self.ca_pem.as_bytes())
        .timeout(Duration::from_secs(5))
    }
}
