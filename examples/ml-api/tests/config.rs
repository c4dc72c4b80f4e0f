//! The server's fixed rules, through the library's public API: configuration layering,
//! defaults and validation (`ml_api::config`), the RBAC policy
//! (`ml_api::policy`) and who sees probabilities (`ml_api::model_guard`). No server is started.

use ml_api::config::{Config, ConfigError, Settings, TlsSource, defaults};
use ml_api::model_guard::ModelProtection;
use ml_api::policy::*;
use mlguard_core::Principal;
use mlguard_modelsec::OutputPolicy;
use mlguard_rbac::Permission;
use std::time::Duration;

#[test]
fn flags_beat_file_and_file_beats_defaults() {
    let file = Settings::from_toml_str("token_rate = \"1/second\"\npredict_rate = \"3/minute\"").unwrap();
    let flags = Settings {
        token_rate: Some("2/second".into()),
        ..Settings::default()
    };
    let c = Config::resolve(flags, Some(file)).unwrap();
    assert_eq!(c.token_rate, "2/second");
    assert_eq!(c.predict_rate, "3/minute");
    assert_eq!(c.max_batch, defaults::MAX_BATCH);
    assert_eq!(c.tls, TlsSource::SelfSigned);
}

#[test]
fn env_secrets_beat_file_secrets() {
    let file = Settings::from_toml_str(&format!("jwt_secret = \"{}\"", "f".repeat(40))).unwrap();
    let env_secret = "e".repeat(40);
    let merged = file.with_secrets_from(|n| (n == "MLGUARD_JWT_SECRET").then(|| env_secret.clone()));
    let c = Config::resolve(Settings::default(), Some(merged)).unwrap();
    assert_eq!(c.jwt_secret.unwrap().expose(), env_secret);
}

#[test]
fn weak_jwt_secret_is_refused_without_echoing_it() {
    let s = Settings::default().with_secrets_from(|n| (n == "MLGUARD_JWT_SECRET").then(|| "tooshort".into()));
    let err = Config::resolve(s, None).unwrap_err();
    assert!(matches!(err, ConfigError::WeakJwtSecret { len: 8, min: 32 }));
    assert!(!err.to_string().contains("tooshort"));
}

#[test]
fn bad_values_are_typed_errors() {
    let bad = |s: Settings| Config::resolve(s, None).unwrap_err();
    assert!(matches!(
        bad(Settings {
            max_batch: Some(0),
            ..Settings::default()
        }),
        ConfigError::Zero("max_batch")
    ));
    assert!(matches!(
        bad(Settings {
            request_timeout: Some("soon".into()),
            ..Settings::default()
        }),
        ConfigError::BadDuration {
            setting: "request_timeout",
            ..
        }
    ));
    assert!(matches!(
        bad(Settings {
            trusted_proxies: Some("10.0.0.0/99".into()),
            ..Settings::default()
        }),
        ConfigError::BadTrustedProxies(_)
    ));
    assert!(matches!(
        bad(Settings {
            tls_cert: Some("c.pem".into()),
            ..Settings::default()
        }),
        ConfigError::HalfTlsPair
    ));
    assert!(matches!(
        bad(Settings {
            fernet_key: Some("not-a-key".into()),
            ..Settings::default()
        }),
        ConfigError::BadFernetKey(_)
    ));
}

#[test]
fn per_ip_connection_cap_defaults_to_a_share_of_the_global_cap() {
    let resolve = |s: Settings| Config::resolve(s, None).unwrap();
    assert_eq!(resolve(Settings::default()).max_connections_per_ip, 32);
    let small = Settings {
        max_connections: Some(8),
        ..Settings::default()
    };
    assert_eq!(resolve(small).max_connections_per_ip, 2);
    let set = Settings::from_toml_str("max_connections_per_ip = 5").unwrap();
    assert_eq!(resolve(set).max_connections_per_ip, 5);
    let zero = Settings {
        max_connections_per_ip: Some(0),
        ..Settings::default()
    };
    assert!(matches!(
        Config::resolve(zero, None).unwrap_err(),
        ConfigError::Zero("max_connections_per_ip")
    ));
}

#[test]
fn identity_provider_settings_are_checked_together() {
    let idp = |url: &str, extra: &str| {
        let toml = format!(
            "jwks_url = \"{url}\"\njwt_issuer = \"https://sso/realms/ml\"\njwt_audience = \"ml-api\"\n{extra}"
        );
        Config::resolve(Settings::from_toml_str(&toml).unwrap(), None)
    };
    let setting = |r: Result<Config, ConfigError>| match r {
        Err(ConfigError::BadValue { setting, .. }) => setting,
        other => panic!("{other:?}"),
    };
    for loopback in [
        "http://127.0.0.1:8080/certs",
        "http://[::1]/certs",
        "http://localhost/certs",
    ] {
        let c = idp(loopback, "").unwrap().idp.unwrap();
        assert_eq!(c.roles_claim, "/roles");
        assert_eq!(c.refresh_interval, defaults::JWKS_REFRESH_INTERVAL);
    }
    let c = idp(
        "https://sso/certs",
        "jwks_ca = \"ca.pem\"\njwt_roles_claim = \"/realm_access/roles\"",
    )
    .unwrap()
    .idp
    .unwrap();
    assert_eq!(c.roles_claim, "/realm_access/roles");
    assert_eq!(setting(idp("http://10.0.0.1/certs", "")), "jwks_url");
    assert_eq!(setting(idp("http://127.evil.example/certs", "")), "jwks_url");
    assert_eq!(setting(idp("ftp://127.0.0.1/certs", "")), "jwks_url");
    assert_eq!(setting(idp("https://sso/certs", "")), "jwks_ca");
    assert_eq!(
        setting(idp("http://127.0.0.1/c", "jwt_roles_claim = \"roles\"")),
        "jwt_roles_claim"
    );
    assert_eq!(
        setting(idp("http://127.0.0.1/c", "jwks_refresh_interval = \"500ms\"")),
        "jwks_refresh_interval"
    );
    let alone = Settings {
        jwt_audience: Some("ml-api".into()),
        ..Settings::default()
    };
    assert_eq!(setting(Config::resolve(alone, None)), "jwt_audience");
    assert!(Config::resolve(Settings::default(), None).unwrap().idp.is_none());
}

#[test]
fn no_tls_wins_over_cert_files() {
    let s = Settings {
        no_tls: Some(true),
        tls_cert: Some("c".into()),
        ..Settings::default()
    };
    assert_eq!(Config::resolve(s, None).unwrap().tls, TlsSource::Off);
}

#[test]
fn debug_redacts_secrets() {
    let s = Settings {
        jwt_secret: Some("s3cr3t-value".into()),
        redis_url: Some("redis://:pw@host".into()),
        ..Settings::default()
    };
    let d = format!("{s:?}");
    assert!(!d.contains("s3cr3t") && !d.contains("pw@"));
    let c = Config::resolve(
        Settings {
            jwt_secret: Some("x".repeat(32).into()),
            ..Settings::default()
        },
        None,
    )
    .unwrap();
    assert!(!format!("{c:?}").contains(&"x".repeat(32)));
}

#[test]
fn in_flight_caps_and_body_deadline_default_to_shares_of_the_global_limits() {
    let c = Config::resolve(Settings::default(), None).unwrap();
    assert_eq!(c.crypto_rate, "60/minute");
    assert_eq!(c.max_in_flight_per_principal, 32);
    assert_eq!(c.max_in_flight_per_ip, 64);
    assert_eq!(c.body_read_timeout, Duration::from_secs(5));
    assert!(c.body_read_timeout < c.request_timeout);
    let small = Settings {
        concurrency_limit: Some(8),
        request_timeout: Some("4s".into()),
        ..Settings::default()
    };
    let c = Config::resolve(small, None).unwrap();
    assert_eq!((c.max_in_flight_per_principal, c.max_in_flight_per_ip), (1, 2));
    assert_eq!(c.body_read_timeout, Duration::from_secs(2));
    let explicit = Settings {
        max_in_flight_per_principal: Some(3),
        max_in_flight_per_ip: Some(5),
        body_read_timeout: Some("2s".into()),
        ..Settings::default()
    };
    let c = Config::resolve(explicit, None).unwrap();
    assert_eq!((c.max_in_flight_per_principal, c.max_in_flight_per_ip), (3, 5));
    assert_eq!(c.body_read_timeout, Duration::from_secs(2));
}

#[test]
fn a_body_deadline_not_below_the_request_timeout_or_a_zero_cap_is_refused() {
    let late = Settings {
        body_read_timeout: Some("10s".into()),
        ..Settings::default()
    };
    let e = Config::resolve(late, None).unwrap_err();
    assert!(
        matches!(e, ConfigError::BodyReadTimeoutNotBelowRequestTimeout { .. }),
        "{e}"
    );
    assert!(e.to_string().contains("request_timeout"));
    let zero = Settings {
        max_in_flight_per_principal: Some(0),
        ..Settings::default()
    };
    assert!(matches!(
        Config::resolve(zero, None),
        Err(ConfigError::Zero("max_in_flight_per_principal"))
    ));
    let zero = Settings {
        body_read_timeout: Some("0s".into()),
        ..Settings::default()
    };
    assert!(matches!(
        Config::resolve(zero, None),
        Err(ConfigError::Zero("body_read_timeout"))
    ));
}

#[test]
fn admin_predicts_user_does_not_both_use_crypto() {
    let p = policy().unwrap();
    let admin = Principal::builder("a").role("admin").build();
    let user = Principal::builder("u").role("user").build();
    let perm = |s: &str| s.parse::<Permission>().unwrap();
    assert!(p.is_allowed(&admin, &perm(MODEL_PREDICT)).is_allowed());
    assert!(p.is_allowed(&admin, &perm(METRICS_READ)).is_allowed());
    assert!(!p.is_allowed(&user, &perm(MODEL_PREDICT)).is_allowed());
    assert!(!p.is_allowed(&user, &perm(METRICS_READ)).is_allowed());
    for c in [CRYPTO_ENCRYPT, CRYPTO_DECRYPT] {
        assert!(p.is_allowed(&admin, &perm(c)).is_allowed());
        assert!(p.is_allowed(&user, &perm(c)).is_allowed());
    }
    assert!(check_role("root").is_err());
    assert!(check_role("client").is_ok());
    let client = Principal::builder("c").role("client").build();
    assert!(p.is_allowed(&client, &perm(MODEL_PREDICT)).is_allowed());
    assert!(!p.is_allowed(&client, &perm(MODEL_PROBABILITIES)).is_allowed());
    assert!(p.is_allowed(&admin, &perm(MODEL_PROBABILITIES)).is_allowed());
    assert!(!p.is_allowed(&client, &perm(CRYPTO_ENCRYPT)).is_allowed());
}

#[tokio::test]
async fn admin_gets_rounded_probabilities_client_the_label_only() {
    let p = ModelProtection::output_only(2);
    let admin = Principal::builder("a").role("admin").build();
    let client = Principal::builder("c").role("client").build();
    let rows = vec![vec![5.0, 3.0, 1.5, 0.2]];
    for (who, want) in [
        (&admin, OutputPolicy::Rounded { decimals: 2 }),
        (&client, OutputPolicy::LabelOnly),
    ] {
        let adm = p.guard().admit(who, &rows).await.unwrap();
        let released = p.guard().release(who, &adm, &rows, &[0]).await.unwrap();
        assert_eq!(released, want);
    }
}

#[test]
fn a_bad_prediction_budget_is_refused() {
    let mut c = Config::for_data_dir("/nonexistent");
    c.predict_budget = "lots".into();
    assert!(ModelProtection::from_config(&c, None).is_err());
}
