//! TLS for client connections, with rustls, inside the workers' mio loops.
//!
//! A TLS connection wraps the same non-blocking socket as a plain one:
//! reads pull records from the socket into rustls and plaintext out of it;
//! writes push plaintext into rustls (bounded, so a client that does not
//! read still meets backpressure) and encrypted records out to the socket.
//! The handshake is just the first reads and writes of that exchange, so it
//! never blocks a worker; a connection still handshaking after
//! [`HANDSHAKE_TIMEOUT`] is closed.

use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use mio::net::TcpStream;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection};

use crate::config::SecurityConfig;

/// How long a client may take to finish the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Plaintext rustls may hold for sending before writes would block.
const SEND_BUFFER_LIMIT: usize = 256 * 1024;

/// Build the server's TLS settings from the `[security]` section: the
/// certificate chain and key (PKCS#8, PKCS#1 or SEC1 PEM), and with a CA
/// file, client certificate verification (required or optional).
pub fn server_config(security: &SecurityConfig) -> Result<Arc<ServerConfig>, String> {
    let (Some(cert_file), Some(key_file)) = (&security.tls_cert_file, &security.tls_key_file) else {
        return Err("tls_cert_file and tls_key_file are required".into());
    };
    let certs = load_certs(cert_file)?;
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|e| format!("cannot read a private key from {}: {e}", key_file.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])
        .map_err(|e| format!("TLS setup: {e}"))?;
    let builder = match &security.tls_ca_file {
        None => builder.with_no_client_auth(),
        Some(ca_file) => {
            let mut roots = RootCertStore::empty();
            for cert in load_certs(ca_file)? {
                roots.add(cert).map_err(|e| format!("bad CA certificate in {}: {e}", ca_file.display()))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if security.tls_auth_clients { verifier } else { verifier.allow_unauthenticated() };
            builder.with_client_cert_verifier(verifier.build().map_err(|e| format!("client verification: {e}"))?)
        }
    };
    let config = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("certificate {} and key {} do not match: {e}", cert_file.display(), key_file.display()))?;
    Ok(Arc::new(config))
}

fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("bad certificate in {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("no certificate found in {}", path.display()));
    }
    Ok(certs)
}

/// The TLS state of one connection.
pub struct Tls {
    conn: ServerConnection,
}

impl Tls {
    pub fn new(config: &Arc<ServerConfig>) -> io::Result<Self> {
        let mut conn = ServerConnection::new(Arc::clone(config)).map_err(io::Error::other)?;
        conn.set_buffer_limit(Some(SEND_BUFFER_LIMIT));
        Ok(Self { conn })
    }

    pub fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// Encrypted bytes are waiting for the socket.
    pub fn wants_write(&self) -> bool {
        self.conn.wants_write()
    }

    /// Read plaintext. `Ok(0)` is the end of the stream; `WouldBlock` means
    /// the socket has nothing more for now.
    pub fn read(&mut self, socket: &mut TcpStream, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            if self.conn.read_tls(socket)? == 0 {
                return Ok(0);
            }
            let processed = self.conn.process_new_packets();
            // Send what the handshake (or an alert about a failure) needs.
            let flushed = self.flush(socket);
            processed.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            flushed?;
        }
    }

    /// Write encrypted records until the socket would block. Returns true
    /// once nothing is left.
    pub fn flush(&mut self, socket: &mut TcpStream) -> io::Result<bool> {
        while self.conn.wants_write() {
            match self.conn.write_tls(socket) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Hand plaintext to rustls and push what it can to the socket.
    fn write(&mut self, socket: &mut TcpStream, data: &[u8]) -> io::Result<usize> {
        let accepted = self.conn.writer().write(data)?;
        self.flush(socket)?;
        if accepted == 0 && !data.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(accepted)
    }
}

/// A connection's byte stream: the socket itself, or TLS over it.
pub struct Transport {
    pub socket: TcpStream,
    pub tls: Option<Tls>,
}

impl Transport {
    /// Read into `buf`; the flag says whether the socket is known to be
    /// drained (a short plain read), so the caller need not read again
    /// before the next readiness event.
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<(usize, bool)> {
        match &mut self.tls {
            None => self.socket.read(buf).map(|n| (n, n < buf.len())),
            Some(tls) => tls.read(&mut self.socket, buf).map(|n| (n, false)),
        }
    }

    /// Flush TLS records rustls still holds; true once nothing is left.
    pub fn flush_pending(&mut self) -> io::Result<bool> {
        match &mut self.tls {
            None => Ok(true),
            Some(tls) => tls.flush(&mut self.socket),
        }
    }

    pub fn has_pending(&self) -> bool {
        self.tls.as_ref().is_some_and(Tls::wants_write)
    }

    pub fn is_handshaking(&self) -> bool {
        self.tls.as_ref().is_some_and(Tls::is_handshaking)
    }
}

impl Write for Transport {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match &mut self.tls {
            None => self.socket.write(data),
            Some(tls) => tls.write(&mut self.socket, data),
        }
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match &mut self.tls {
            None => self.socket.write_vectored(bufs),
            Some(_) => {
                let first = bufs.iter().find(|b| !b.is_empty()).map_or(&[][..], |b| &b[..]);
                self.write(first)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_pending().map(|_| ())
    }
}
