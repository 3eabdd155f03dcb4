//! The schema migrations, applied with refinery from the repository's
//! `migrations/` folder (`V<n>__<name>.sql`, append-only). refinery records
//! what it applied in `refinery_schema_history`, so running twice is harmless.
//! Running twice *at once* is not, by refinery alone: both runs read the
//! history before either writes it, and the second fails on the first's
//! tables (even on `CREATE TABLE IF NOT EXISTS refinery_schema_history`). A
//! cluster runs a migration Job on every deploy, and two deploys can overlap,
//! so every run holds a PostgreSQL advisory lock for its whole length.
//! It speaks TLS as libpq does for the URL's `sslmode`, since a managed
//! PostgreSQL often accepts nothing else.

use anyhow::{Context, Result};

mod embedded {
    refinery::embed_migrations!("../../migrations");
}

/// The advisory lock key that serialises migration runs on one database
/// (any fixed number works; this one reads "todo-spin" in ASCII, truncated).
pub const MIGRATION_LOCK_KEY: i64 = 0x746f_646f_2d73_7069;

/// Applies every pending migration to the database at `database_url` and
/// returns the names (`V1__initial_schema`) of those it applied. A run that
/// starts while another is under way waits for it, then finds nothing (or
/// only what is still missing) to apply.
pub fn migrate(database_url: &str) -> Result<Vec<String>> {
    let mut client = connect(database_url)
        .with_context(|| format!("cannot connect to {}", redact(database_url)))?;
    // Session-level, on the connection refinery then uses: it outlives
    // refinery's per-migration transactions, and PostgreSQL releases it when
    // the session ends, even if this process dies half-way.
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK_KEY])
        .context("cannot take the migration lock")?;
    let report = embedded::migrations::runner().run(&mut client);
    // Released for the next run; closing the connection would release it too.
    let _ = client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK_KEY]);
    let report = report.context("migrations failed")?;
    Ok(report
        .applied_migrations()
        .iter()
        .map(|m| format!("V{}__{}", m.version(), m.name()))
        .collect())
}

/// A connection as libpq makes it for the URL's `sslmode`: `disable` in
/// plain text; `require` over TLS; `prefer` (the default) over TLS when the
/// server offers it. As with libpq, the server's certificate is checked only
/// when `PGSSLROOTCERT` names a CA bundle (then it must chain to it and name
/// the host): managed services sign with CAs of their own, and `require`
/// promises encryption, not identity.
fn connect(database_url: &str) -> Result<postgres::Client> {
    let config: postgres::Config = database_url.parse().context("invalid connection string")?;
    let client = if config.get_ssl_mode() == postgres::config::SslMode::Disable {
        config.connect(postgres::NoTls)?
    } else {
        let roots = std::env::var_os("PGSSLROOTCERT");
        config.connect(tls::connector(roots.as_deref().map(std::path::Path::new))?)?
    };
    Ok(client)
}

mod tls {
    use std::path::Path;
    use std::sync::Arc;

    use anyhow::{Context, Result};
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
    use tokio_postgres_rustls::MakeRustlsConnect;

    /// TLS for `postgres`: verified against the CA bundle at `roots`, or,
    /// without one, encrypted with whatever certificate the server shows.
    pub fn connector(roots: Option<&Path>) -> Result<MakeRustlsConnect> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?;
        let config = match roots {
            Some(path) => {
                let mut store = RootCertStore::empty();
                for cert in CertificateDer::pem_file_iter(path)
                    .with_context(|| format!("cannot read PGSSLROOTCERT {}", path.display()))?
                {
                    store.add(cert?)?;
                }
                builder.with_root_certificates(store).with_no_client_auth()
            }
            None => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
                .with_no_client_auth(),
        };
        Ok(MakeRustlsConnect::new(config))
    }

    /// libpq's `sslmode=require`: any certificate, but the handshake's
    /// signatures are still checked, so the session is bound to its key.
    #[derive(Debug)]
    struct AnyCertificate(Arc<CryptoProvider>);

    impl ServerCertVerifier for AnyCertificate {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp_response: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }
}

/// The highest version among the embedded migrations.
pub fn latest_version() -> i64 {
    embedded::migrations::runner()
        .get_migrations()
        .iter()
        .map(|m| i64::from(m.version()))
        .max()
        .unwrap_or(0)
}

/// The URL without its password, for messages.
pub fn redact(database_url: &str) -> String {
    match url::Url::parse(database_url) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => database_url.to_owned(),
    }
}
