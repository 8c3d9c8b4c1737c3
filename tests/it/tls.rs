//! TLS: the real server on its TLS port, with certificates made at test
//! time (rcgen), spoken to by a rustls client and by `redis-cli --tls`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use crate::common::{free_port, redistill_only, run_redistill, TempDir, TestServer};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

/// A CA, a server certificate for 127.0.0.1 signed by it, and a client
/// certificate, written as PEM files.
struct Pki {
    dir: TempDir,
}

/// A CA: its parameters, key, certificate PEM and key PEM.
fn ca(name: &str) -> (CertificateParams, KeyPair, String, String) {
    let key = KeyPair::generate().expect("CA key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let pem = params.self_signed(&key).expect("CA cert").pem();
    let key_pem = key.serialize_pem();
    (params, key, pem, key_pem)
}

fn leaf(issuer: &Issuer<'_, KeyPair>, expired: bool) -> (String, String) {
    let key = KeyPair::generate().expect("leaf key");
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).expect("params");
    if expired {
        params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        params.not_after = rcgen::date_time_ymd(2001, 1, 1);
    }
    (params.signed_by(&key, issuer).expect("leaf cert").pem(), key.serialize_pem())
}

impl Pki {
    fn new() -> Pki {
        let dir = TempDir::new("tls");
        let (ca_params, ca_key, ca_pem, ca_key_pem) = ca("Redistill test CA");
        let issuer = Issuer::new(ca_params, ca_key);
        let (server_pem, server_key) = leaf(&issuer, false);
        let (expired_pem, expired_key) = leaf(&issuer, true);
        let (client_pem, client_key) = leaf(&issuer, false);
        let (_, _, other_ca_pem, _) = ca("Some other CA");
        for (name, text) in [
            ("ca.pem", ca_pem),
            ("ca.key", ca_key_pem),
            ("server.pem", server_pem),
            ("server.key", server_key),
            ("expired.pem", expired_pem),
            ("expired.key", expired_key),
            ("client.pem", client_pem),
            ("client.key", client_key),
            ("other-ca.pem", other_ca_pem),
        ] {
            dir.write(name, &text);
        }
        Pki { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn server_toml(&self, tls_port: u16, cert: &str, key: &str, extra: &str) -> String {
        format!(
            "[security]\ntls_enabled = true\ntls_port = {tls_port}\ntls_cert_file = \"{}\"\ntls_key_file = \"{}\"\n{extra}",
            self.path(cert).display(),
            self.path(key).display()
        )
    }
}

/// Connect with rustls trusting `ca`, optionally presenting the client
/// certificate, send PING and return the reply (or the error).
fn tls_ping(port: u16, ca: &PathBuf, client: Option<(&PathBuf, &PathBuf)>) -> Result<String, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).map_err(|e| e.to_string())? {
        roots.add(cert.map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    let config = match client {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let certs = CertificateDer::pem_file_iter(cert).map_err(|e| e.to_string())?.flatten().collect();
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| e.to_string())?;
            builder.with_client_auth_cert(certs, key).map_err(|e| e.to_string())?
        }
    };
    let name = ServerName::try_from("127.0.0.1").map_err(|e| e.to_string())?;
    let conn = rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
    let sock = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    sock.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| e.to_string())?;
    let mut tls = rustls::StreamOwned::new(conn, sock);
    tls.write_all(b"PING\r\n").map_err(|e| e.to_string())?;
    let mut reply = [0u8; 64];
    let n = tls.read(&mut reply).map_err(|e| e.to_string())?;
    if n == 0 {
        return Err("connection closed".into());
    }
    Ok(String::from_utf8_lossy(&reply[..n]).into_owned())
}

#[test]
fn serves_tls_beside_plain_tcp() {
    if redistill_only() {
        return;
    }
    let pki = Pki::new();
    let tls_port = free_port();
    let s = TestServer::start_with(&pki.server_toml(tls_port, "server.pem", "server.key", ""));
    assert_eq!(tls_ping(tls_port, &pki.path("ca.pem"), None).as_deref(), Ok("+PONG\r\n"));
    s.raw().expect_cmd(&["PING"], "+PONG\r\n");
    let got = s.raw().call_resp(&["CONFIG", "GET", "tls-port"]);
    assert_eq!(got.pairs()[0].1.text(), tls_port.to_string());
}

#[test]
fn big_values_and_pipelines_cross_tls_intact() {
    if redistill_only() {
        return;
    }
    let pki = Pki::new();
    let tls_port = free_port();
    let _s = TestServer::start_with(&pki.server_toml(tls_port, "server.pem", "server.key", ""));
    let out = Command::new("redis-cli")
        .args(["--tls", "--cacert"])
        .arg(pki.path("ca.pem"))
        .args(["-h", "127.0.0.1", "-p", &tls_port.to_string(), "SET", "big"])
        .arg("x".repeat(300_000))
        .output();
    let Ok(out) = out else {
        eprintln!("redis-cli not installed; skipping");
        return;
    };
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "OK", "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new("redis-cli")
        .args(["--tls", "--cacert"])
        .arg(pki.path("ca.pem"))
        .args(["-h", "127.0.0.1", "-p", &tls_port.to_string(), "STRLEN", "big"])
        .output()
        .expect("redis-cli");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "300000");
}

#[test]
fn a_client_trusting_another_ca_is_refused() {
    if redistill_only() {
        return;
    }
    let pki = Pki::new();
    let tls_port = free_port();
    let s = TestServer::start_with(&pki.server_toml(tls_port, "server.pem", "server.key", ""));
    let err = tls_ping(tls_port, &pki.path("other-ca.pem"), None).expect_err("handshake must fail");
    assert!(err.contains("certificate") || err.contains("UnknownIssuer"), "{err}");
    s.raw().expect_cmd(&["PING"], "+PONG\r\n");
}

#[test]
fn an_expired_server_certificate_is_refused_by_clients() {
    if redistill_only() {
        return;
    }
    let pki = Pki::new();
    let tls_port = free_port();
    let _s = TestServer::start_with(&pki.server_toml(tls_port, "expired.pem", "expired.key", ""));
    let err = tls_ping(tls_port, &pki.path("ca.pem"), None).expect_err("expired certificate accepted");
    assert!(err.contains("Expired") || err.contains("expired"), "{err}");
}

#[test]
fn mutual_tls_requires_a_client_certificate() {
    if redistill_only() {
        return;
    }
    let pki = Pki::new();
    let tls_port = free_port();
    let extra = format!("tls_ca_file = \"{}\"\n", pki.path("ca.pem").display());
    let _s = TestServer::start_with(&pki.server_toml(tls_port, "server.pem", "server.key", &extra));
    assert!(tls_ping(tls_port, &pki.path("ca.pem"), None).is_err(), "a client without a certificate got in");
    let client = (&pki.path("client.pem"), &pki.path("client.key"));
    assert_eq!(tls_ping(tls_port, &pki.path("ca.pem"), Some(client)).as_deref(), Ok("+PONG\r\n"));
}

#[test]
fn optional_client_certificates() {
    if redistill_only() {
        return;
    }
    let pki = Pki::new();
    let tls_port = free_port();
    let extra = format!("tls_ca_file = \"{}\"\ntls_auth_clients = false\n", pki.path("ca.pem").display());
    let _s = TestServer::start_with(&pki.server_toml(tls_port, "server.pem", "server.key", &extra));
    assert_eq!(tls_ping(tls_port, &pki.path("ca.pem"), None).as_deref(), Ok("+PONG\r\n"));
}

#[test]
fn pkcs1_and_sec1_keys_load() {
    if redistill_only() {
        return;
    }
    let pki = Pki::new();
    // SEC1 ("EC PRIVATE KEY") from the PKCS#8 key rcgen wrote, and an RSA
    // key in PKCS#1 ("RSA PRIVATE KEY") with a certificate for it.
    let sec1 = Command::new("openssl")
        .args(["ec", "-in"])
        .arg(pki.path("server.key"))
        .arg("-out")
        .arg(pki.path("server-sec1.key"))
        .output();
    let Ok(sec1) = sec1 else {
        eprintln!("openssl not installed; skipping");
        return;
    };
    assert!(sec1.status.success(), "{}", String::from_utf8_lossy(&sec1.stderr));
    let tls_port = free_port();
    let _s = TestServer::start_with(&pki.server_toml(tls_port, "server.pem", "server-sec1.key", ""));
    assert_eq!(tls_ping(tls_port, &pki.path("ca.pem"), None).as_deref(), Ok("+PONG\r\n"));
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl").current_dir(pki.dir.path()).args(args).output().expect("openssl");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    pki.dir.write("san.ext", "subjectAltName=IP:127.0.0.1\n");
    openssl(&["genrsa", "-traditional", "-out", "rsa1.key", "2048"]);
    openssl(&["req", "-new", "-key", "rsa1.key", "-subj", "/CN=127.0.0.1", "-out", "rsa.csr"]);
    openssl(&[
        "x509", "-req", "-in", "rsa.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-days", "2", "-extfile", "san.ext",
        "-out", "rsa.pem",
    ]);
    let key = std::fs::read_to_string(pki.path("rsa1.key")).expect("rsa key");
    assert!(key.contains("BEGIN RSA PRIVATE KEY"), "not PKCS#1: {key}");
    let tls_port = free_port();
    let _s = TestServer::start_with(&pki.server_toml(tls_port, "rsa.pem", "rsa1.key", ""));
    assert_eq!(tls_ping(tls_port, &pki.path("ca.pem"), None).as_deref(), Ok("+PONG\r\n"));
}

#[test]
fn a_missing_or_mismatched_key_stops_start_up() {
    if redistill_only() {
        return;
    }
    let pki = Pki::new();
    let config = pki.dir.write(
        "bad.toml",
        &pki.server_toml(free_port(), "server.pem", "client.key", "").replace("[security]", "[security]\n"),
    );
    let out = run_redistill(
        &["--config", &config.display().to_string(), "--port", &free_port().to_string()],
        &[],
        Duration::from_secs(10),
    );
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert!(out.stderr.contains("do not match"), "{}", out.stderr);
}

#[test]
fn a_silent_client_is_dropped_after_the_handshake_timeout() {
    if redistill_only() {
        return;
    }
    let pki = Pki::new();
    let tls_port = free_port();
    let s = TestServer::start_with(&pki.server_toml(tls_port, "server.pem", "server.key", ""));
    let mut idle = TcpStream::connect(("127.0.0.1", tls_port)).expect("connect");
    idle.set_read_timeout(Some(Duration::from_secs(15))).expect("timeout");
    let started = std::time::Instant::now();
    let mut buf = [0u8; 16];
    let n = idle.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "server sent data to a client that never said hello");
    assert!(started.elapsed() < Duration::from_secs(14), "not closed by the handshake timeout");
    s.raw().expect_cmd(&["PING"], "+PONG\r\n");
}
