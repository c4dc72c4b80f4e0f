//! First run: everything the server needs, generated into the data directory, reused later.
//!
//! The files are listed in `docs/configuration.md` ("The data directory").
//!
//! The directory is `0700`, files `0600`, each created atomically (see [`crate::datadir`]).
//! A secret given in the environment (`MLGUARD_JWT_SECRET`, `MLGUARD_FERNET_KEY`) is used
//! instead of the file, and the file is then not created.

use crate::config::{Config, Secret};
use crate::datadir::{DataDir, ensure_private_dir, files, random_b64};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mlguard_core::fs::create_new_atomic;
use mlguard_crypto::Fernet;
use mlguard_model::{Classifier, ForestParams, Model, ModelKey};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;
use zeroize::Zeroizing;

/// What a bootstrap produced: the loaded secrets and model, and what was created just now.
pub struct Bootstrapped {
    /// The data directory.
    pub data_dir: DataDir,
    /// HS256 signing secret.
    pub jwt_secret: Secret,
    /// The Fernet cipher for `/encrypt` and `/decrypt`.
    pub fernet: Fernet,
    /// The model.
    pub model: Arc<dyn Classifier>,
    /// The model's training statistics (format v2 files); `None` for a v1 model file, which
    /// then has no input envelope. Taken before the model is shared as a [`Classifier`].
    pub training_stats: Option<mlguard_model::TrainingStats>,
    /// The model's held-out accuracy, when this run trained it.
    pub trained_accuracy: Option<f64>,
    /// `admin`'s password, when this run created the user (print it once, then drop it).
    pub admin_password: Option<Secret>,
    /// Certificate and key (PEM paths), when serving the generated self-signed pair.
    pub self_signed: Option<(PathBuf, PathBuf)>,
    /// Names of the files created by this run.
    pub created: Vec<&'static str>,
}

impl std::fmt::Debug for Bootstrapped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bootstrapped")
            .field("data_dir", &self.data_dir)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

/// A data directory that cannot be prepared. Messages name files, never their content.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BootstrapError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// A stored secret is malformed.
    #[error("{path}: {what}")]
    BadSecret {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        what: &'static str,
    },
    /// The certificate could not be generated.
    #[error("generating the self-signed certificate: {0}")]
    Cert(#[from] mlguard_http::tls::TlsError),
    /// Training, saving or loading the model failed.
    #[error("model: {0}")]
    Model(#[from] mlguard_model::Error),
    /// The users or API key store failed.
    #[error("user store: {0}")]
    Users(String),
    /// The authentication database cannot be opened, migrated or imported into (the message
    /// never contains the database URL).
    #[error("database: {0}")]
    Database(String),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> BootstrapError + '_ {
    move |source| BootstrapError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Creates `name` with `make()` if it does not exist; returns its (trimmed) content.
fn secret_file(
    dir: &DataDir,
    name: &'static str,
    created: &mut Vec<&'static str>,
    make: impl FnOnce() -> io::Result<Zeroizing<String>>,
) -> Result<Secret, BootstrapError> {
    let path = dir.file(name);
    if !path.exists() {
        let value = make().map_err(io_err(&path))?;
        if create_new_atomic(&path, value.as_bytes()).map_err(io_err(&path))? {
            created.push(name);
        }
    }
    let text = Zeroizing::new(std::fs::read_to_string(&path).map_err(io_err(&path))?);
    Ok(Secret::new(text.trim()))
}

/// Prepares the data directory for `config` (creating what is missing) and loads everything.
///
/// # Errors
/// [`BootstrapError`] naming the file at fault.
pub fn bootstrap(config: &Config) -> Result<Bootstrapped, BootstrapError> {
    let dir = DataDir::new(&config.data_dir);
    ensure_private_dir(dir.root()).map_err(io_err(dir.root()))?;
    let mut created = Vec::new();

    let jwt_secret = match &config.jwt_secret {
        Some(s) => s.clone(),
        None => secret_file(&dir, files::JWT_SECRET, &mut created, || random_b64(48))?,
    };
    if jwt_secret.expose().len() < crate::config::defaults::MIN_JWT_SECRET_LEN {
        return Err(BootstrapError::BadSecret {
            path: dir.file(files::JWT_SECRET),
            what: "shorter than 32 bytes",
        });
    }
    let fernet_key = match &config.fernet_key {
        Some(s) => s.clone(),
        None => secret_file(&dir, files::FERNET_KEY, &mut created, || {
            Ok(Zeroizing::new(Fernet::generate_key()))
        })?,
    };
    let fernet = Fernet::new(fernet_key.expose()).map_err(|_| BootstrapError::BadSecret {
        path: dir.file(files::FERNET_KEY),
        what: "not a Fernet key",
    })?;

    let (model, training_stats, trained_accuracy) = load_or_train_model(&dir, &mut created)?;

    let self_signed = match config.tls {
        crate::config::TlsSource::SelfSigned => Some(self_signed_cert(&dir, &mut created)?),
        _ => None,
    };

    // Users and API keys live in the database: `admin` is created by `open_database`.
    let admin_password = None;

    Ok(Bootstrapped {
        data_dir: dir,
        jwt_secret,
        fernet,
        model,
        training_stats,
        trained_accuracy,
        admin_password,
        self_signed,
        created,
    })
}

/// The password hasher of `/token`: OWASP's Argon2id, one check per core at once, and the
/// work budget `login_hash_rate` (mlguard-auth's default for the cores when unset).
pub fn login_hasher(config: &Config) -> mlguard_auth::password::PasswordHasher {
    let hasher = mlguard_auth::password::PasswordHasher::new();
    match config.login_hash_budget {
        Some(budget) => hasher.hash_budget(budget),
        None => hasher,
    }
}

fn model_key(dir: &DataDir, created: &mut Vec<&'static str>) -> Result<ModelKey, BootstrapError> {
    let text = secret_file(dir, files::MODEL_KEY, created, || random_b64(32))?;
    let bad = || BootstrapError::BadSecret {
        path: dir.file(files::MODEL_KEY),
        what: "not 32+ bytes of base64url",
    };
    let bytes = URL_SAFE_NO_PAD.decode(text.expose()).map_err(|_| bad())?;
    ModelKey::new(bytes).map_err(|_| bad())
}

/// Trains the default model and writes it (signed) to the data directory, replacing any model
/// there. Returns the held-out accuracy. This is `ml-api train`.
///
/// # Errors
/// Training, key or file errors.
pub fn train_into(data_dir: &Path) -> Result<f64, BootstrapError> {
    let dir = DataDir::new(data_dir);
    ensure_private_dir(dir.root()).map_err(io_err(dir.root()))?;
    let mut created = Vec::new();
    let (bytes, accuracy) = train_signed(&model_key(&dir, &mut created)?)?;
    let path = dir.file(files::MODEL);
    mlguard_core::fs::write_atomic(&path, &bytes).map_err(io_err(&path))?;
    Ok(accuracy)
}

/// A freshly trained model file signed with `key`, and its held-out accuracy.
fn train_signed(key: &ModelKey) -> Result<(Vec<u8>, f64), BootstrapError> {
    let trained = ForestParams::new()
        .train_iris(SystemTime::now())
        .map_err(mlguard_model::Error::from)?;
    let bytes = trained
        .model
        .to_bytes(Some(key))
        .map_err(mlguard_model::Error::from)?;
    Ok((bytes, trained.accuracy))
}

/// The model, its training statistics (v2 files) and its accuracy when trained by this run.
type LoadedModel = (
    Arc<dyn Classifier>,
    Option<mlguard_model::TrainingStats>,
    Option<f64>,
);

fn load_or_train_model(
    dir: &DataDir,
    created: &mut Vec<&'static str>,
) -> Result<LoadedModel, BootstrapError> {
    let key = model_key(dir, created)?;
    let path = dir.file(files::MODEL);
    let mut accuracy = None;
    if !path.exists() {
        tracing::info!("training the iris model (first run)");
        let (bytes, trained_accuracy) = train_signed(&key)?;
        if create_new_atomic(&path, &bytes).map_err(io_err(&path))? {
            created.push(files::MODEL);
            accuracy = Some(trained_accuracy);
        }
    }
    let model = Model::load(&path, Some(&key)).map_err(mlguard_model::Error::from)?;
    let stats = model.training_stats().cloned();
    if stats.is_none() {
        tracing::warn!(
            file = %path.display(),
            "the model file has no training statistics (format v1): no input envelope, \
             out-of-distribution checks are off and extraction detection runs without its \
             out-of-distribution rate; `ml-api train` rewrites the model with statistics"
        );
    }
    Ok((Arc::new(model), stats, accuracy))
}

fn self_signed_cert(
    dir: &DataDir,
    created: &mut Vec<&'static str>,
) -> Result<(PathBuf, PathBuf), BootstrapError> {
    let (cert, key) = (dir.file(files::TLS_CERT), dir.file(files::TLS_KEY));
    let names = ["localhost", "127.0.0.1", "::1"].map(str::to_owned);
    if mlguard_http::tls::ensure_self_signed_files(&cert, &key, &names)? {
        created.extend([files::TLS_KEY, files::TLS_CERT]);
    }
    Ok((cert, key))
}

/// The authentication database, opened by [`open_database`].
#[derive(Debug)]
pub struct Database {
    /// Users, API keys, refresh tokens and revocations.
    pub store: mlguard_auth::sql::SqlStore,
    /// `admin`'s password, when this start created the user (print it once, then drop it).
    pub admin_password: Option<Secret>,
    /// What was imported from an old data directory's `users.json` / `apikeys.json`.
    pub imported: mlguard_auth::sql::ImportReport,
}

/// Connects to the configured database (running its migrations), imports an old data
/// directory's `users.json` and `apikeys.json` once (renamed `*.imported`), and, when
/// `create_admin` is set and the database has no user, creates `admin` with a random password.
///
/// Two instances starting together on one PostgreSQL cannot both create `admin`: the user is
/// written to a `users.json` and imported, and the import only adds users that are not there
/// yet, so only the instance whose insert won shows a password.
///
/// # Errors
/// [`BootstrapError::Database`]: its message never contains the database URL.
pub async fn open_database(config: &Config, create_admin: bool) -> Result<Database, BootstrapError> {
    let url = config.database_url();
    // mlguard-auth takes the URL and its password out of its connection errors.
    let db_err = |e: mlguard_auth::AuthError| BootstrapError::Database(e.to_string());
    let dir = DataDir::new(&config.data_dir);
    ensure_private_dir(dir.root()).map_err(io_err(dir.root()))?;
    // The periodic reload must come well within stale_max.
    let resync = (config.db_stale_max / 3).min(mlguard_auth::sql::DEFAULT_RESYNC_EVERY);
    let store = mlguard_auth::sql::SqlStore::builder(url.expose())
        .stale_max(config.db_stale_max)
        .resync_every(resync)
        .refresh_ttl(config.refresh_token_ttl)
        .connect()
        .await
        .map_err(db_err)?;
    let mut imported = store.import_json_dir(dir.root()).await.map_err(db_err)?;
    let mut admin_password = None;
    if create_admin && store.list_users().await.map_err(db_err)?.is_empty() {
        // `admin` (role `admin`, a random password) as a `users.json` that the database
        // imports: written exclusively, so of two racing first starts only one gets a password.
        let password =
            mlguard_auth::first_user::create_first_user_file(&dir.file(files::USERS), "admin", &["admin"])
                .map_err(|e| BootstrapError::Users(e.to_string()))?
                .map(|p| Secret::new(p.as_str()));
        let report = store.import_json_dir(dir.root()).await.map_err(db_err)?;
        if report.users > 0 {
            admin_password = password;
        }
        imported.renamed.extend(report.renamed);
    }
    tracing::info!(backend = store.backend(), "authentication database ready");
    Ok(Database {
        store,
        admin_password,
        imported,
    })
}
