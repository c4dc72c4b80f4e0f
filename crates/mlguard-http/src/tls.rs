//! rustls server configuration: TLS 1.2 and 1.3 only, ring provider, ALPN `h2` and `http/1.1`;
//! from PEM files, PEM bytes, or a generated self-signed pair.

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The certificate or key cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The certificate file is missing, unreadable or holds no certificate.
    #[error("TLS certificate {path}: {message}")]
    Cert {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The key file is missing, unreadable or holds no private key.
    #[error("TLS key {path}: {message}")]
    Key {
        /// The file.
        path: PathBuf,
        /// What is wrong (never key material).
        message: String,
    },
    /// The self-signed pair could not be generated.
    #[error("self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls refused the pair (e.g. the key does not match the certificate).
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// A server configuration from PEM files: TLS 1.3 and 1.2 (nothing older), the ring provider,
/// ALPN `h2` then `http/1.1`.
///
/// # Errors
/// [`TlsError`] naming the file at fault.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsError::Cert {
            path: cert.to_owned(),
            message: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Cert {
            path: cert.to_owned(),
            message: "no CERTIFICATE block".into(),
        });
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Key {
        path: key.to_owned(),
        message: match e {
            rustls::pki_types::pem::Error::NoItemsFound => "no PRIVATE KEY block".into(),
            other => other.to_string(),
        },
    })?;
    config_from(certs, key_der)
}

/// As [`server_config`], from PEM bytes in memory (a secret store, [`SelfSigned`]).
///
/// ```
/// let pair = mlguard_http::tls::self_signed(&["localhost".into()])?;
/// let config = mlguard_http::tls::server_config_from_pem(pair.cert_pem.as_bytes(), pair.key_pem.as_bytes())?;
/// assert_eq!(config.alpn_protocols[0], b"h2");
/// # Ok::<(), mlguard_http::tls::TlsError>(())
/// ```
///
/// # Errors
/// [`TlsError`] (the path in it is `<memory>`).
pub fn server_config_from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Arc<ServerConfig>, TlsError> {
    let memory = || PathBuf::from("<memory>");
    let certs = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Cert {
            path: memory(),
            message: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Cert {
            path: memory(),
            message: "no CERTIFICATE block".into(),
        });
    }
    let key_der = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| TlsError::Key {
        path: memory(),
        message: match e {
            rustls::pki_types::pem::Error::NoItemsFound => "no PRIVATE KEY block".into(),
            other => other.to_string(),
        },
    })?;
    config_from(certs, key_der)
}

fn config_from(
    certs: Vec<CertificateDer<'static>>,
    key_der: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A generated certificate and its private key, PEM-encoded; the key is zeroized on drop and
/// never printed by `Debug`.
pub struct SelfSigned {
    /// The certificate (`-----BEGIN CERTIFICATE-----`).
    pub cert_pem: String,
    /// The PKCS#8 private key (`-----BEGIN PRIVATE KEY-----`).
    pub key_pem: zeroize::Zeroizing<String>,
}

impl std::fmt::Debug for SelfSigned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SelfSigned")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// A self-signed certificate (ECDSA P-256, rcgen) for `names` (DNS names or IP addresses),
/// valid from yesterday for two years: for development and first runs, never for clients
/// that cannot pin it. Turn it into a configuration with [`server_config_from_pem`].
///
/// # Errors
/// [`TlsError::Generate`] when rcgen refuses a name.
pub fn self_signed(names: &[String]) -> Result<SelfSigned, TlsError> {
    let key = rcgen::KeyPair::generate()?;
    let mut params = rcgen::CertificateParams::new(names.to_vec())?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "mlguard (self-signed)");
    let now = std::time::SystemTime::now();
    params.not_before = (now - std::time::Duration::from_secs(86_400)).into();
    params.not_after = (now + std::time::Duration::from_secs(2 * 365 * 86_400)).into();
    let cert = params.self_signed(&key)?;
    Ok(SelfSigned {
        cert_pem: cert.pem(),
        key_pem: zeroize::Zeroizing::new(key.serialize_pem()),
    })
}

/// Makes sure a self-signed pair ([`self_signed`] for `names`) is on disk at `cert` and `key`,
/// each written atomically with mode `0600` ([`mlguard_core::fs::create_new_atomic`]); an
/// existing complete pair is left alone. The key is written first: a certificate without its
/// key is useless, and a half pair (a crash between the two) is generated again. Returns
/// whether this call generated the pair. For development servers and first runs.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use mlguard_http::tls::{ensure_self_signed_files, server_config};
/// let dir = std::env::temp_dir().join(format!("mlguard-tls-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
/// let names = ["localhost".to_owned()];
/// assert!(ensure_self_signed_files(&cert, &key, &names)?);
/// assert!(!ensure_self_signed_files(&cert, &key, &names)?);
/// server_config(&cert, &key)?;
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(()) }
/// ```
///
/// # Errors
/// [`TlsError::Generate`], or [`TlsError::Cert`] / [`TlsError::Key`] naming the file that
/// could not be written.
pub fn ensure_self_signed_files(cert: &Path, key: &Path, names: &[String]) -> Result<bool, TlsError> {
    if cert.exists() && key.exists() {
        return Ok(false);
    }
    let pair = self_signed(names)?;
    let _ = std::fs::remove_file(cert);
    let _ = std::fs::remove_file(key);
    mlguard_core::fs::create_new_atomic(key, pair.key_pem.as_bytes()).map_err(|e| TlsError::Key {
        path: key.to_owned(),
        message: e.to_string(),
    })?;
    mlguard_core::fs::create_new_atomic(cert, pair.cert_pem.as_bytes()).map_err(|e| TlsError::Cert {
        path: cert.to_owned(),
        message: e.to_string(),
    })?;
    Ok(true)
}

/// Where a server's certificate comes from: the three usual settings (`no_tls`, a certificate
/// and key pair of PEM files, or neither: a generated self-signed pair), checked once.
///
/// ```
/// use mlguard_http::tls::TlsSource;
/// assert_eq!(TlsSource::from_settings(false, None, None), Ok(TlsSource::SelfSigned));
/// assert_eq!(TlsSource::from_settings(true, Some("c.pem".into()), None), Ok(TlsSource::Off));
/// assert!(TlsSource::from_settings(false, Some("c.pem".into()), None).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsSource {
    /// Plain HTTP (only behind a TLS-terminating proxy).
    Off,
    /// A generated self-signed pair ([`ensure_self_signed_files`]).
    SelfSigned,
    /// PEM files.
    Files {
        /// Certificate chain.
        cert: PathBuf,
        /// Private key.
        key: PathBuf,
    },
}

/// Only one of the certificate and the key is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("tls_cert and tls_key must be set together")]
pub struct HalfTlsPair;

impl TlsSource {
    /// `Off` when `no_tls`, else the files when both are set, else `SelfSigned` when neither is.
    ///
    /// # Errors
    /// [`HalfTlsPair`] when only one of `cert` and `key` is set (and TLS is on).
    pub fn from_settings(
        no_tls: bool,
        cert: Option<PathBuf>,
        key: Option<PathBuf>,
    ) -> Result<Self, HalfTlsPair> {
        match (no_tls, cert, key) {
            (true, _, _) => Ok(Self::Off),
            (false, None, None) => Ok(Self::SelfSigned),
            (false, Some(cert), Some(key)) => Ok(Self::Files { cert, key }),
            _ => Err(HalfTlsPair),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_half_pair_on_disk_is_generated_again_and_a_whole_one_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        let names = ["localhost".to_owned()];
        assert!(ensure_self_signed_files(&cert, &key, &names).unwrap());
        let first = std::fs::read(&cert).unwrap();
        assert!(!ensure_self_signed_files(&cert, &key, &names).unwrap());
        assert_eq!(std::fs::read(&cert).unwrap(), first);
        std::fs::remove_file(&key).unwrap();
        assert!(ensure_self_signed_files(&cert, &key, &names).unwrap());
        assert_ne!(std::fs::read(&cert).unwrap(), first);
        server_config(&cert, &key).unwrap();
    }

    #[test]
    fn a_self_signed_pair_makes_a_tls12_and_13_config_and_bad_pem_is_named() {
        let pair = self_signed(&["localhost".into(), "127.0.0.1".into()]).unwrap();
        assert!(!format!("{pair:?}").contains("PRIVATE KEY"));
        let config = server_config_from_pem(pair.cert_pem.as_bytes(), pair.key_pem.as_bytes()).unwrap();
        assert_eq!(config.alpn_protocols, vec![b"h2".to_vec(), b"http/1.1".to_vec()]);
        let err = server_config_from_pem(b"nothing", pair.key_pem.as_bytes()).unwrap_err();
        assert!(matches!(err, TlsError::Cert { .. }), "{err}");
        let err = server_config_from_pem(pair.cert_pem.as_bytes(), b"nothing").unwrap_err();
        assert!(matches!(err, TlsError::Key { .. }), "{err}");
        let other = self_signed(&["localhost".into()]).unwrap();
        let err = server_config_from_pem(pair.cert_pem.as_bytes(), other.key_pem.as_bytes()).unwrap_err();
        assert!(matches!(err, TlsError::Rustls(_)), "{err}");
    }

    use rustls::pki_types::{ServerName, UnixTime};
    use std::time::{Duration, SystemTime};

    /// A clock for the client's certificate check.
    #[derive(Debug)]
    struct At(SystemTime);

    impl rustls::time_provider::TimeProvider for At {
        fn current_time(&self) -> Option<UnixTime> {
            Some(UnixTime::since_unix_epoch(
                self.0.duration_since(SystemTime::UNIX_EPOCH).ok()?,
            ))
        }
    }

    /// A client trusting `cert_pem` only, checking it at `now`, offering `versions` and `alpn`.
    fn client(
        cert_pem: &str,
        now: SystemTime,
        versions: &[&'static rustls::SupportedProtocolVersion],
        alpn: &[&[u8]],
    ) -> rustls::ClientConfig {
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(cert_pem.as_bytes()) {
            roots.add(c.unwrap()).unwrap();
        }
        let mut config = rustls::ClientConfig::builder_with_details(
            Arc::new(rustls::crypto::ring::default_provider()),
            Arc::new(At(now)),
        )
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        config
    }

    /// A real handshake over an in-memory pipe: the client's view (version, ALPN) or its error.
    async fn handshake(
        client: rustls::ClientConfig,
        server: Arc<ServerConfig>,
    ) -> std::io::Result<(rustls::ProtocolVersion, Option<Vec<u8>>)> {
        let (c, s) = tokio::io::duplex(64 * 1024);
        let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
        let acceptor = tokio_rustls::TlsAcceptor::from(server);
        let name = ServerName::try_from("localhost").unwrap();
        let both = async { tokio::join!(connector.connect(name, c), acceptor.accept(s)) };
        let (client, _server) = tokio::time::timeout(Duration::from_secs(10), both)
            .await
            .expect("the handshake ends");
        let tls = client?;
        let conn = tls.get_ref().1;
        Ok((
            conn.protocol_version().unwrap(),
            conn.alpn_protocol().map(<[u8]>::to_vec),
        ))
    }

    const DAY: Duration = Duration::from_secs(86_400);
    const BOTH: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];

    #[tokio::test]
    async fn a_self_signed_certificate_is_valid_from_yesterday_for_two_years() {
        let pair = self_signed(&["localhost".into()]).unwrap();
        let server = server_config_from_pem(pair.cert_pem.as_bytes(), pair.key_pem.as_bytes()).unwrap();
        let now = SystemTime::now();
        for (at, valid) in [
            (now, true),
            (now - 23 * 3600 * Duration::from_secs(1), true),
            (now - DAY - DAY / 24, false),
            (now + 729 * DAY, true),
            (now + 731 * DAY, false),
        ] {
            let result = handshake(client(&pair.cert_pem, at, BOTH, &[b"h2"]), server.clone()).await;
            let days = at
                .duration_since(now)
                .map(|d| d.as_secs_f64() / 86_400.0)
                .unwrap_or_else(|e| -e.duration().as_secs_f64() / 86_400.0);
            assert_eq!(
                result.is_ok(),
                valid,
                "checked {days:.2} days from now: {result:?}"
            );
        }
    }

    #[tokio::test]
    async fn tls_12_and_13_are_served_with_alpn_and_older_versions_are_refused() {
        let pair = self_signed(&["localhost".into()]).unwrap();
        let server = server_config_from_pem(pair.cert_pem.as_bytes(), pair.key_pem.as_bytes()).unwrap();
        let now = SystemTime::now();
        for (version, expected) in [
            (&rustls::version::TLS13, rustls::ProtocolVersion::TLSv1_3),
            (&rustls::version::TLS12, rustls::ProtocolVersion::TLSv1_2),
        ] {
            for alpn in [&b"h2"[..], b"http/1.1"] {
                let (got, chosen) =
                    handshake(client(&pair.cert_pem, now, &[version], &[alpn]), server.clone())
                        .await
                        .unwrap();
                assert_eq!(got, expected);
                assert_eq!(chosen.as_deref(), Some(alpn));
            }
        }
        // Both offered: h2 first.
        let (_, chosen) = handshake(
            client(&pair.cert_pem, now, BOTH, &[b"http/1.1", b"h2"]),
            server.clone(),
        )
        .await
        .unwrap();
        assert_eq!(chosen.as_deref(), Some(&b"h2"[..]));
    }

    #[test]
    fn pem_files_that_cannot_be_used_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let pair = self_signed(&["localhost".into()]).unwrap();
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        let missing = dir.path().join("missing.pem");
        std::fs::write(&cert, &pair.cert_pem).unwrap();
        std::fs::write(&key, pair.key_pem.as_bytes()).unwrap();
        server_config(&cert, &key).unwrap();

        let err = server_config(&missing, &key).unwrap_err();
        assert!(
            matches!(&err, TlsError::Cert { path, .. } if *path == missing),
            "{err:?}"
        );
        assert!(err.to_string().starts_with("TLS certificate "), "{err}");
        assert!(err.to_string().contains("missing.pem"), "{err}");
        // The key file holds no certificate.
        let err = server_config(&key, &key).unwrap_err();
        assert!(
            matches!(&err, TlsError::Cert { path, message } if *path == key && message == "no CERTIFICATE block"),
            "{err:?}"
        );
        let err = server_config(&cert, &missing).unwrap_err();
        assert!(
            matches!(&err, TlsError::Key { path, .. } if *path == missing),
            "{err:?}"
        );
        assert!(err.to_string().starts_with("TLS key "), "{err}");
        // The certificate file holds no key.
        let err = server_config(&cert, &cert).unwrap_err();
        assert!(
            matches!(&err, TlsError::Key { path, message } if *path == cert && message == "no PRIVATE KEY block"),
            "{err:?}"
        );
        // In memory, the same errors name `<memory>`.
        let err = server_config_from_pem(pair.key_pem.as_bytes(), pair.key_pem.as_bytes()).unwrap_err();
        assert!(
            matches!(&err, TlsError::Cert { path, message } if path.as_os_str() == "<memory>" && message == "no CERTIFICATE block"),
            "{err:?}"
        );
        let err = server_config_from_pem(pair.cert_pem.as_bytes(), pair.cert_pem.as_bytes()).unwrap_err();
        assert!(
            matches!(&err, TlsError::Key { path, message } if path.as_os_str() == "<memory>" && message == "no PRIVATE KEY block"),
            "{err:?}"
        );
        // No error ever carries key material.
        assert!(!format!("{err:?}{err}").contains("PRIVATE KEY-----"));
    }

    #[test]
    fn a_self_signed_pair_s_debug_shows_the_certificate_and_hides_the_key() {
        let pair = self_signed(&["localhost".into()]).unwrap();
        let debug = format!("{pair:?}");
        assert!(debug.starts_with("SelfSigned {"), "{debug}");
        assert!(debug.contains("BEGIN CERTIFICATE"), "{debug}");
        assert!(debug.contains("key_pem: \"<redacted>\""), "{debug}");
        assert!(!debug.contains("PRIVATE KEY"), "{debug}");
        assert!(pair.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    }

    #[test]
    fn tls_settings_resolve_to_off_self_signed_files_or_a_half_pair_error() {
        let (c, k) = (Some(PathBuf::from("c.pem")), Some(PathBuf::from("k.pem")));
        assert_eq!(TlsSource::from_settings(true, None, None), Ok(TlsSource::Off));
        assert_eq!(
            TlsSource::from_settings(true, c.clone(), None),
            Ok(TlsSource::Off)
        );
        assert_eq!(
            TlsSource::from_settings(true, c.clone(), k.clone()),
            Ok(TlsSource::Off)
        );
        assert_eq!(
            TlsSource::from_settings(false, None, None),
            Ok(TlsSource::SelfSigned)
        );
        assert_eq!(
            TlsSource::from_settings(false, c.clone(), k.clone()),
            Ok(TlsSource::Files {
                cert: "c.pem".into(),
                key: "k.pem".into()
            })
        );
        assert_eq!(TlsSource::from_settings(false, c, None), Err(HalfTlsPair));
        assert_eq!(TlsSource::from_settings(false, None, k), Err(HalfTlsPair));
        assert_eq!(
            HalfTlsPair.to_string(),
            "tls_cert and tls_key must be set together"
        );
    }
}
