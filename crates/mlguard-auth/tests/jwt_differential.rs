//! Differential property test: mlguard's `JwtVerifier` against `jsonwebtoken::decode` with an
//! equivalent `Validation`, on random keys, algorithms, headers, claims and tamperings.
//!
//! Both sides are configured alike: one key pinned to one algorithm, issuer and audience
//! `ml-api`, a 30 s leeway, `exp`, `sub`, `iss` and `aud` required, `nbf` checked. Both read
//! the system clock (jsonwebtoken cannot be given another), so every generated date is at
//! least 5 s away from an accept/reject boundary.
//!
//! The accept/reject decision must agree, except for the intended differences below, each
//! asserted exactly: when jsonwebtoken accepts a token carrying one of them, mlguard must
//! refuse it with the error named here, and when mlguard accepts a token jsonwebtoken
//! refuses, the token must carry a difference of the second kind.
//!
//! mlguard is stricter (it refuses, jsonwebtoken accepts):
//! - a `jku`, `x5u` or `x5c` header (keys named by the token): `ForbiddenHeader`;
//! - a `crit` header (no extension is understood): `CriticalHeader`;
//! - a `kid` that names no configured key (jsonwebtoken is handed the key and ignores `kid`):
//!   `UnknownKey`;
//! - `iat` in the future beyond the leeway (`IssuedInFuture`), or not a number
//!   (`InvalidClaimType("iat")`): jsonwebtoken does not read `iat`;
//! - `iss` as an array (`InvalidClaimType("iss")`): RFC 7519 makes `iss` one string;
//! - an empty `sub` (`MissingClaim("sub")`);
//! - `jti`, `scope` or `roles` of the wrong JSON type (`InvalidClaimType`): jsonwebtoken does
//!   not read them;
//! - a claim mlguard checks appearing twice (`Malformed`): JSON parsers disagree on which
//!   duplicate counts (jsonwebtoken refuses duplicates only of the claims it reads);
//! - a token over 8 KiB (`TooLarge`).
//!
//! mlguard is more lenient (it accepts, jsonwebtoken refuses):
//! - a `typ` header that is not a string, when the verifier does not require a `typ`:
//!   mlguard does not use `typ` then and skips it like any unknown member; jsonwebtoken's
//!   typed `Header` fails to parse. With `require_typ` mlguard refuses it (`WrongType`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Validation};
use mlguard_auth::jwt::{JwtAlgorithm, JwtVerifier, JwtVerifierBuilder, TokenError, VerifyingKey};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use serde_json::{Map, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const EC_PRIVATE: &[u8] = include_bytes!("data/ec_private.pem");
const EC_PUBLIC: &[u8] = include_bytes!("data/ec_public.pem");
const ED_PRIVATE: &[u8] = include_bytes!("data/ed_private.pem");
const ED_PUBLIC: &[u8] = include_bytes!("data/ed_public.pem");
const LEEWAY: i64 = 30;
const MAX_LEN: usize = 8 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Alg {
    Hs256,
    Hs384,
    Hs512,
    Es256,
    EdDsa,
}

impl Alg {
    fn ours(self) -> JwtAlgorithm {
        match self {
            Self::Hs256 => JwtAlgorithm::HS256,
            Self::Hs384 => JwtAlgorithm::HS384,
            Self::Hs512 => JwtAlgorithm::HS512,
            Self::Es256 => JwtAlgorithm::ES256,
            Self::EdDsa => JwtAlgorithm::EdDSA,
        }
    }

    fn theirs(self) -> Algorithm {
        match self {
            Self::Hs256 => Algorithm::HS256,
            Self::Hs384 => Algorithm::HS384,
            Self::Hs512 => Algorithm::HS512,
            Self::Es256 => Algorithm::ES256,
            Self::EdDsa => Algorithm::EdDSA,
        }
    }

    fn is_hmac(self) -> bool {
        matches!(self, Self::Hs256 | Self::Hs384 | Self::Hs512)
    }
}

fn alg() -> impl Strategy<Value = Alg> {
    prop_oneof![
        4 => Just(Alg::Hs256),
        2 => Just(Alg::Hs384),
        2 => Just(Alg::Hs512),
        1 => Just(Alg::Es256),
        1 => Just(Alg::EdDsa),
    ]
}

/// How the token is damaged after signing.
#[derive(Debug, Clone)]
enum Tamper {
    None,
    /// Replace the character at this position (modulo the length) of the signature part.
    SignatureChar(usize),
    /// Same in the payload part.
    PayloadChar(usize),
    /// Same in the header part.
    HeaderChar(usize),
    EmptySignature,
    ZeroSignature,
    TruncatedSignature,
    ExtraPart,
    Padding,
    LeadingSpace,
}

fn tamper() -> impl Strategy<Value = Tamper> {
    rarely(
        Just(Tamper::None),
        prop_oneof![
            any::<usize>().prop_map(Tamper::SignatureChar),
            any::<usize>().prop_map(Tamper::PayloadChar),
            any::<usize>().prop_map(Tamper::HeaderChar),
            Just(Tamper::EmptySignature),
            Just(Tamper::ZeroSignature),
            Just(Tamper::TruncatedSignature),
            Just(Tamper::ExtraPart),
            Just(Tamper::Padding),
            Just(Tamper::LeadingSpace),
        ],
    )
}

/// One generated test case. Header and claims are JSON member lists written as raw text, so
/// that they can hold duplicates and escapes.
#[derive(Debug, Clone)]
struct Case {
    /// The algorithm (and key) the token is really signed with.
    sign: Alg,
    /// The header's `alg` text.
    header_alg: String,
    /// The one algorithm the verifier's key is configured for.
    verify: Alg,
    /// HMAC secret of the signer (64 bytes or more: enough for all three).
    secret: Vec<u8>,
    /// The verifier holds a different HMAC secret.
    wrong_secret: bool,
    header: Vec<(&'static str, &'static str)>,
    claims: Vec<(&'static str, String)>,
    tamper: Tamper,
}

/// `valid` 15 times out of 16, else `bad`: with about 18 independent dimensions, a third of
/// the cases are valid tokens and most of the others differ from one in one place, which is
/// where the two verifiers' decisions are worth comparing.
fn rarely<T: std::fmt::Debug + Clone + 'static>(
    valid: impl Strategy<Value = T> + 'static,
    bad: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<T> {
    prop_oneof![15 => valid, 1 => bad].boxed()
}

fn header_alg(sign: Alg) -> impl Strategy<Value = String> {
    rarely(
        Just(sign.ours().as_str().to_owned()),
        prop_oneof![
            Just("none"),
            Just("None"),
            Just("NONE"),
            Just("hs256"),
            Just("HS257"),
            Just("RS256"),
            Just("HS256"),
            Just("HS512"),
            Just("ES256"),
            Just("EdDSA"),
        ]
        .prop_map(str::to_owned),
    )
}

type Member = Option<(&'static str, &'static str)>;

fn header_extras() -> impl Strategy<Value = Vec<(&'static str, &'static str)>> {
    let kid = rarely(
        prop_oneof![Just(None), Just(Some(("kid", r#""k1""#)))],
        prop_oneof![Just(Some(("kid", r#""other""#))), Just(Some(("kid", "5")))],
    );
    let typ: BoxedStrategy<Member> = rarely(
        prop_oneof![
            Just(None),
            Just(Some(("typ", r#""JWT""#))),
            Just(Some(("typ", r#""at+jwt""#)))
        ],
        Just(Some(("typ", "5"))),
    );
    let other: BoxedStrategy<Member> = rarely(
        prop_oneof![
            Just(None),
            Just(Some(("cty", r#""JWT""#))),
            Just(Some(("foo", r#"{"a":[1,2]}"#))),
        ],
        prop_oneof![
            Just(Some(("jku", r#""https://evil.example/jwks""#))),
            Just(Some(("x5u", r#""https://evil.example/cert""#))),
            Just(Some(("x5c", r#"["MIIB"]"#))),
            Just(Some(("jku", "5"))),
            Just(Some(("crit", r#"["exp"]"#))),
            Just(Some(("crit", "5"))),
        ],
    );
    (kid, typ, other).prop_map(|(kid, typ, other)| [kid, typ, other].into_iter().flatten().collect())
}

/// A NumericDate text `offset` seconds from now: most often an integer, sometimes with a
/// fraction (never within 5 s of a boundary, so jsonwebtoken's rounding does not matter).
fn date(offset: i64, fraction: bool) -> String {
    let now = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()).unwrap();
    if fraction {
        format!("{}.25", now + offset)
    } else {
        (now + offset).to_string()
    }
}

fn dated(offsets: &'static [i64]) -> impl Strategy<Value = Option<String>> {
    (prop::sample::select(offsets), any::<bool>()).prop_map(|(o, f)| Some(date(o, f)))
}

fn text(values: &'static [&'static str]) -> impl Strategy<Value = Option<String>> {
    prop::sample::select(values).prop_map(|v| Some(v.to_owned()))
}

fn claims() -> impl Strategy<Value = Vec<(&'static str, String)>> {
    let exp = rarely(
        dated(&[-LEEWAY + 5, -5, 5, 600, 86_400]),
        prop_oneof![
            dated(&[-LEEWAY - 5, -3600]),
            Just(None),
            text(&[r#""1700000000""#, "null", "-5", "true"]),
        ],
    );
    let nbf = rarely(
        prop_oneof![Just(None), dated(&[-600, 0, LEEWAY - 5])],
        prop_oneof![dated(&[LEEWAY + 5, 3600]), text(&[r#""x""#, "null"])],
    );
    let iat = rarely(
        prop_oneof![Just(None), dated(&[-600, 0, LEEWAY - 5])],
        prop_oneof![dated(&[LEEWAY + 100]), text(&[r#""x""#])],
    );
    let iss = rarely(
        text(&[r#""ml-api""#]),
        prop_oneof![
            Just(None),
            text(&[r#""evil""#, "5", r#"["ml-api"]"#, r#"["evil"]"#])
        ],
    );
    let aud = rarely(
        text(&[r#""ml-api""#, r#"["x","ml-api"]"#]),
        prop_oneof![
            Just(None),
            text(&[r#""x""#, r#"["x"]"#, "[]", "5", r#"["ml-api",5]"#])
        ],
    );
    let sub: BoxedStrategy<Member> = rarely(
        prop_oneof![
            Just(Some(("sub", r#""alice""#))),
            Just(Some(("s\\u0075b", r#""\u0061lice""#)))
        ],
        prop_oneof![Just(Some(("sub", r#""""#))), Just(None), Just(Some(("sub", "5")))],
    );
    let jti = rarely(prop_oneof![Just(None), text(&[r#""j1""#])], text(&["5"]));
    let roles = rarely(
        prop_oneof![Just(None), text(&[r#"["user"]"#, r#""user""#])],
        text(&["[1]", "{}"]),
    );
    let scope = rarely(
        prop_oneof![Just(None), text(&[r#""model:predict openid""#])],
        text(&["5"]),
    );
    let extra = rarely(
        prop_oneof![
            Just(None),
            Just(Some(("tenant", r#"{"id":[1,"a",null]}"#.to_owned())))
        ],
        Just(Some(("pad", format!("\"{}\"", "a".repeat(MAX_LEN))))),
    );
    let duplicate = rarely(Just(None), any::<usize>().prop_map(Some));
    (
        exp,
        nbf,
        iat,
        iss,
        aud,
        sub,
        (jti, roles, scope, extra, duplicate),
    )
        .prop_map(
            |(exp, nbf, iat, iss, aud, sub, (jti, roles, scope, extra, duplicate))| {
                let mut members: Vec<(&'static str, String)> = Vec::new();
                let mut push = |name: &'static str, value: Option<String>| {
                    if let Some(value) = value {
                        members.push((name, value));
                    }
                };
                push("exp", exp);
                push("nbf", nbf);
                push("iat", iat);
                push("iss", iss);
                push("aud", aud);
                if let Some((name, value)) = sub {
                    push(name, Some(value.to_owned()));
                }
                push("jti", jti);
                push("roles", roles);
                push("scope", scope);
                if let Some((name, value)) = extra {
                    push(name, Some(value));
                }
                if let Some(i) = duplicate
                    && !members.is_empty()
                {
                    let copy = members[i % members.len()].clone();
                    members.push(copy);
                }
                members
            },
        )
}

fn case() -> impl Strategy<Value = Case> {
    (
        alg(),
        alg(),
        prop::bool::weighted(15.0 / 16.0),
        prop::collection::vec(any::<u8>(), 64..96),
    )
        .prop_flat_map(|(sign, other, same_verify_alg, secret)| {
            let verify = if same_verify_alg { sign } else { other };
            (
                header_alg(sign),
                prop::bool::weighted(1.0 / 16.0),
                header_extras(),
                claims(),
                tamper(),
            )
                .prop_map(move |(header_alg, wrong_secret, header, claims, tamper)| Case {
                    sign,
                    header_alg,
                    verify,
                    secret: secret.clone(),
                    wrong_secret,
                    header,
                    claims,
                    tamper,
                })
        })
}

fn object<V: AsRef<str>>(members: &[(&str, V)]) -> String {
    let body: Vec<String> = members
        .iter()
        .map(|(name, value)| format!("\"{name}\":{}", value.as_ref()))
        .collect();
    format!("{{{}}}", body.join(","))
}

fn encoding_key(alg: Alg, secret: &[u8]) -> EncodingKey {
    match alg {
        Alg::Es256 => EncodingKey::from_ec_pem(EC_PRIVATE).unwrap(),
        Alg::EdDsa => EncodingKey::from_ed_pem(ED_PRIVATE).unwrap(),
        _ => EncodingKey::from_secret(secret),
    }
}

fn verifier_secret(case: &Case) -> Vec<u8> {
    let mut secret = case.secret.clone();
    if case.wrong_secret {
        secret[0] ^= 1;
    }
    secret
}

fn ours(case: &Case) -> JwtVerifier {
    ours_builder(case).build().unwrap()
}

fn ours_builder(case: &Case) -> JwtVerifierBuilder {
    let key = if case.verify.is_hmac() {
        VerifyingKey::hmac(case.verify.ours(), &verifier_secret(case)).unwrap()
    } else {
        let pem = if case.verify == Alg::Es256 {
            EC_PUBLIC
        } else {
            ED_PUBLIC
        };
        VerifyingKey::from_pem(case.verify.ours(), pem).unwrap()
    };
    JwtVerifier::builder()
        .key(key.with_kid("k1"))
        .issuer("ml-api")
        .audience("ml-api")
        .leeway(Duration::from_secs(LEEWAY.unsigned_abs()))
}

fn theirs(case: &Case) -> (DecodingKey, Validation) {
    let key = match case.verify {
        Alg::Es256 => DecodingKey::from_ec_pem(EC_PUBLIC).unwrap(),
        Alg::EdDsa => DecodingKey::from_ed_pem(ED_PUBLIC).unwrap(),
        _ => DecodingKey::from_secret(&verifier_secret(case)),
    };
    let mut validation = Validation::new(case.verify.theirs());
    validation.set_issuer(&["ml-api"]);
    validation.set_audience(&["ml-api"]);
    validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
    validation.validate_nbf = true;
    validation.leeway = LEEWAY.unsigned_abs();
    (key, validation)
}

fn token(case: &Case) -> String {
    let mut header = vec![("alg", format!("\"{}\"", case.header_alg))];
    header.extend(case.header.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let header = URL_SAFE_NO_PAD.encode(object(&header));
    let payload = URL_SAFE_NO_PAD.encode(object(&case.claims));
    let message = format!("{header}.{payload}");
    let signature = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        &encoding_key(case.sign, &case.secret),
        case.sign.theirs(),
    )
    .unwrap();
    let replace = |part: &str, i: usize| {
        let mut bytes = part.as_bytes().to_vec();
        let i = i % bytes.len();
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        String::from_utf8(bytes).unwrap()
    };
    match case.tamper {
        Tamper::None => format!("{message}.{signature}"),
        Tamper::SignatureChar(i) => format!("{message}.{}", replace(&signature, i)),
        Tamper::PayloadChar(i) => format!("{header}.{}.{signature}", replace(&payload, i)),
        Tamper::HeaderChar(i) => format!("{}.{payload}.{signature}", replace(&header, i)),
        Tamper::EmptySignature => format!("{message}."),
        Tamper::ZeroSignature => format!("{message}.{}", "A".repeat(signature.len())),
        Tamper::TruncatedSignature => format!("{message}.{}", &signature[..signature.len() - 4]),
        Tamper::ExtraPart => format!("{message}.{signature}.e30"),
        Tamper::Padding => format!("{message}.{signature}="),
        Tamper::LeadingSpace => format!(" {message}.{signature}"),
    }
}

/// The errors mlguard may give for a token jsonwebtoken accepts: one per intended "stricter"
/// difference the case carries (see the module docs).
fn stricter(case: &Case, token: &str) -> Vec<TokenError> {
    let mut why = Vec::new();
    let header = |name: &'static str, value: &'static str| case.header.contains(&(name, value));
    for name in ["jku", "x5u", "x5c"] {
        if case.header.iter().any(|(k, _)| *k == name) {
            why.push(TokenError::ForbiddenHeader(
                mlguard_auth::jwt::verify::FORBIDDEN_HEADER_PARAMS
                    .into_iter()
                    .find(|p| *p == name)
                    .unwrap(),
            ));
        }
    }
    if case.header.iter().any(|(k, _)| *k == "crit") {
        why.push(TokenError::CriticalHeader);
    }
    if header("kid", r#""other""#) {
        why.push(TokenError::UnknownKey);
    }
    let claim = |name: &str| {
        case.claims
            .iter()
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    for iat in claim("iat") {
        match iat.parse::<f64>() {
            Ok(iat) if iat > now + 30.0 => why.push(TokenError::IssuedInFuture),
            Ok(_) => {}
            Err(_) => why.push(TokenError::InvalidClaimType("iat")),
        }
    }
    if claim("iss").iter().any(|v| v.starts_with('[')) {
        why.push(TokenError::InvalidClaimType("iss"));
    }
    if claim("sub").contains(&r#""""#) {
        why.push(TokenError::MissingClaim("sub"));
    }
    for name in ["jti", "scope", "roles"] {
        if claim(name).iter().any(|v| {
            let value: Value = serde_json::from_str(v).unwrap();
            match name {
                "roles" => {
                    !(value.is_string() || value.as_array().is_some_and(|a| a.iter().all(Value::is_string)))
                }
                _ => !value.is_string(),
            }
        }) {
            why.push(TokenError::InvalidClaimType(match name {
                "jti" => "jti",
                "scope" => "scope",
                _ => "roles",
            }));
        }
    }
    let mut names: Vec<&str> = case.claims.iter().map(|(k, _)| *k).collect();
    names.sort_unstable();
    if names.windows(2).any(|w| w[0] == w[1]) {
        why.push(TokenError::Malformed);
    }
    if token.len() > MAX_LEN {
        why.push(TokenError::TooLarge);
    }
    why
}

/// Whether the case carries an intended "more lenient" difference (see the module docs).
fn lenient(case: &Case) -> bool {
    case.header.contains(&("typ", "5"))
}

/// How the two verifiers decided one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    BothAccept,
    BothRefuse,
    /// mlguard refused, for a documented reason, what jsonwebtoken accepted.
    Stricter,
    /// mlguard accepted, for the documented reason, what jsonwebtoken refused.
    Lenient,
}

/// Runs both verifiers on `case`; `Err` describes an undocumented disagreement.
fn compare(case: &Case) -> Result<Outcome, String> {
    let token = token(case);
    let (key, validation) = theirs(case);
    let mine = ours(case).verify_at(&token, SystemTime::now());
    let other = jsonwebtoken::decode::<Map<String, Value>>(&token, &key, &validation);
    let outcome = match (&mine, &other) {
        (Ok(_), Ok(_)) => Outcome::BothAccept,
        (Err(_), Err(_)) => Outcome::BothRefuse,
        (Err(e), Ok(_)) => {
            let allowed = stricter(case, &token);
            if !allowed.contains(e) {
                return Err(format!(
                    "mlguard refused ({e:?}) what jsonwebtoken accepted, for no documented reason \
                     (allowed: {allowed:?}); token {token}"
                ));
            }
            Outcome::Stricter
        }
        (Ok(_), Err(e)) => {
            if !lenient(case) {
                return Err(format!(
                    "mlguard accepted what jsonwebtoken refused ({e:?}); token {token}"
                ));
            }
            // The lenient difference exists only while no `typ` is required.
            let strict = ours_builder(case).require_typ("JWT").build().unwrap();
            let required = strict.verify_at(&token, SystemTime::now());
            if required != Err(TokenError::WrongType) {
                return Err(format!("with require_typ, a non-string typ gave {required:?}"));
            }
            Outcome::Lenient
        }
    };
    Ok(outcome)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    #[test]
    fn mlguard_and_jsonwebtoken_agree_except_where_documented(case in case()) {
        if let Err(disagreement) = compare(&case) {
            prop_assert!(false, "{}", disagreement);
        }
    }
}

/// The generator reaches every kind of outcome (a differential test whose cases were all
/// refused by both sides would prove nothing): 300 cases from a fixed seed.
#[test]
fn the_random_cases_reach_every_outcome() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = case();
    let mut seen = std::collections::BTreeMap::new();
    for _ in 0..300 {
        let case = strategy.new_tree(&mut runner).unwrap().current();
        let outcome = compare(&case).unwrap_or_else(|e| panic!("{e}"));
        *seen.entry(outcome).or_insert(0u32) += 1;
    }
    println!("outcomes of 300 cases: {seen:?}");
    for outcome in [
        Outcome::BothAccept,
        Outcome::BothRefuse,
        Outcome::Stricter,
        Outcome::Lenient,
    ] {
        assert!(seen.contains_key(&outcome), "no {outcome:?} case: {seen:?}");
    }
    assert!(
        seen[&Outcome::BothAccept] >= 20,
        "too few accepted tokens: {seen:?}"
    );
}

/// Each intended difference, once, on an otherwise valid HS256 token, so that a change in
/// either library that removes one is noticed even if the random cases miss it.
#[test]
fn each_documented_difference_holds() {
    let base = Case {
        sign: Alg::Hs256,
        header_alg: "HS256".to_owned(),
        verify: Alg::Hs256,
        secret: vec![7; 64],
        wrong_secret: false,
        header: vec![("kid", r#""k1""#)],
        claims: vec![
            ("exp", date(600, false)),
            ("iss", r#""ml-api""#.to_owned()),
            ("aud", r#""ml-api""#.to_owned()),
            ("sub", r#""alice""#.to_owned()),
            ("jti", r#""j1""#.to_owned()),
        ],
        tamper: Tamper::None,
    };
    let run = |case: &Case| {
        let token = token(case);
        let (key, validation) = theirs(case);
        (
            ours(case).verify_at(&token, SystemTime::now()),
            jsonwebtoken::decode::<Map<String, Value>>(&token, &key, &validation).is_ok(),
        )
    };
    let (mine, theirs_ok) = run(&base);
    assert!(mine.is_ok() && theirs_ok, "the base token must pass both");

    let header = |extra: (&'static str, &'static str)| {
        let mut c = base.clone();
        c.header.push(extra);
        c
    };
    let claim = |name: &'static str, value: String| {
        let mut c = base.clone();
        c.claims.retain(|(k, _)| *k != name);
        c.claims.push((name, value));
        c
    };
    let stricter = [
        (
            header(("jku", r#""https://evil.example""#)),
            TokenError::ForbiddenHeader("jku"),
        ),
        (
            header(("x5u", r#""https://evil.example""#)),
            TokenError::ForbiddenHeader("x5u"),
        ),
        (header(("x5c", r#"["MIIB"]"#)), TokenError::ForbiddenHeader("x5c")),
        (header(("crit", r#"["exp"]"#)), TokenError::CriticalHeader),
        (
            {
                let mut c = base.clone();
                c.header = vec![("kid", r#""other""#)];
                c
            },
            TokenError::UnknownKey,
        ),
        (
            claim("iat", date(LEEWAY + 100, false)),
            TokenError::IssuedInFuture,
        ),
        (
            claim("iat", r#""x""#.to_owned()),
            TokenError::InvalidClaimType("iat"),
        ),
        (
            claim("iss", r#"["ml-api"]"#.to_owned()),
            TokenError::InvalidClaimType("iss"),
        ),
        (claim("sub", r#""""#.to_owned()), TokenError::MissingClaim("sub")),
        (claim("jti", "5".to_owned()), TokenError::InvalidClaimType("jti")),
        (
            claim("scope", "5".to_owned()),
            TokenError::InvalidClaimType("scope"),
        ),
        (
            claim("roles", "[1]".to_owned()),
            TokenError::InvalidClaimType("roles"),
        ),
        (
            {
                let mut c = base.clone();
                c.claims.push(("jti", r#""j2""#.to_owned()));
                c
            },
            TokenError::Malformed,
        ),
        (
            claim("pad", format!("\"{}\"", "a".repeat(MAX_LEN))),
            TokenError::TooLarge,
        ),
    ];
    for (case, expected) in stricter {
        let (mine, theirs_ok) = run(&case);
        assert!(theirs_ok, "jsonwebtoken should accept {case:?}");
        assert_eq!(mine.unwrap_err(), expected, "{case:?}");
    }

    let lenient = header(("typ", "5"));
    let (mine, theirs_ok) = run(&lenient);
    assert!(mine.is_ok() && !theirs_ok, "{mine:?} {theirs_ok}");
}
