//! Interoperability with the real peer: Python's `cryptography` package.
//!
//! Spawns `python3 tests/data/fernet_peer.py`. Rust encrypts and Python
//! decrypts, Python encrypts and Rust decrypts, with one key from Python's
//! format; then both judge the same mangled tokens and must agree.
//!
//! If `cryptography` is not importable the test fails in CI and prints a
//! skip message otherwise (`mlguard_testkit::missing_dependency`, the
//! workspace's one skip rule).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mlguard_crypto::Fernet;
use rand::{Rng, RngCore, SeedableRng, rngs::StdRng};
use serde::{Deserialize, Serialize};

#[derive(Serialize)]
struct Request {
    key: String,
    encrypt: Vec<String>,
    decrypt: Vec<String>,
    verdicts: Vec<String>,
    ttl_checks: Vec<(String, u64)>,
}

#[derive(Deserialize)]
struct Response {
    version: String,
    tokens: Vec<String>,
    plaintexts: Vec<String>,
    verdicts: Vec<bool>,
    ttl_verdicts: Vec<bool>,
}

/// Runs the Python peer; `None` if `cryptography` is missing outside CI.
fn ask_python(request: &Request) -> Option<Response> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/fernet_peer.py");
    let child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(err) => {
            // The workspace's one skip rule: fails in CI, skips elsewhere.
            mlguard_testkit::missing_dependency("python interop", &format!("cannot run python3 ({err})"));
            return None;
        }
    };
    let body = serde_json::to_vec(request).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Write from a thread: the peer starts answering only after reading all.
    let writer = std::thread::spawn(move || stdin.write_all(&body));
    let output = child.wait_with_output().unwrap();
    // A peer that exits early (no `cryptography`) closes the pipe: judge by
    // its exit status first, the write result after.
    let written = writer.join().unwrap();
    if output.status.code() == Some(3) {
        let why = String::from_utf8_lossy(&output.stderr);
        mlguard_testkit::missing_dependency(
            "python interop",
            &format!("Python's cryptography package is missing: {}", why.trim()),
        );
        return None;
    }
    assert!(
        output.status.success(),
        "python peer failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    written.unwrap();
    Some(serde_json::from_slice(&output.stdout).unwrap())
}

fn messages(rng: &mut StdRng) -> Vec<Vec<u8>> {
    let mut messages = vec![
        Vec::new(),
        vec![0x00],
        vec![0xff],
        // not UTF-8
        vec![0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xff, 0xfe, 0x80],
        (0..=255u8).collect(),
        "héllo wörld ✓".as_bytes().to_vec(),
    ];
    let mut mib = vec![0u8; 1024 * 1024];
    rng.fill_bytes(&mut mib);
    messages.push(mib);
    for len in [15, 16, 17, 31, 32, 33, 4095, 4096, 4097] {
        let mut m = vec![0u8; len];
        rng.fill_bytes(&mut m);
        messages.push(m);
    }
    for _ in 0..200 {
        let len = rng.gen_range(0..2048);
        let mut m = vec![0u8; len];
        rng.fill_bytes(&mut m);
        messages.push(m);
    }
    messages
}

/// Variants of a genuine token that Python's decoder treats specially.
fn mangled(token: &str, rng: &mut StdRng) -> Vec<String> {
    let mut out = vec![
        token.to_owned(),
        token.replace('-', "+").replace('_', "/"),
        token.trim_end_matches('=').to_owned(),
        format!("{token}="),
        format!("{token}=="),
        format!("{token}AAAA"),
        format!("{token}\n"),
        format!(" {token}"),
        token[..token.len() - 1].to_owned(),
        token[..token.len() - 4].to_owned(),
        token[1..].to_owned(),
        String::new(),
        "%%%%".to_owned(),
    ];
    for _ in 0..40 {
        let mut chars: Vec<char> = token.chars().collect();
        let at = rng.gen_range(0..=chars.len());
        match rng.gen_range(0..4) {
            0 => chars.insert(at, *b"!.* \t=%".map(char::from).get(rng.gen_range(0..7)).unwrap()),
            1 if at < chars.len() => {
                chars.remove(at);
            }
            2 if at < chars.len() => chars[at] = '=',
            _ => chars.insert(at, '='),
        }
        out.push(chars.into_iter().collect());
    }
    out
}

#[test]
fn rust_and_python_read_each_others_tokens() {
    let seed: u64 = rand::thread_rng().r#gen();
    eprintln!("seed {seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let key = Fernet::generate_key();
    let fernet = Fernet::new(&key).unwrap();
    let messages = messages(&mut rng);

    let rust_tokens: Vec<String> = messages.iter().map(|m| fernet.encrypt(m)).collect();
    let odd_token = fernet.encrypt_at_time_with_iv_danger(b"0123456789", 1_700_000_000, [0xfb; 16]);
    let mut verdict_tokens = mangled(&odd_token, &mut rng);
    verdict_tokens.extend(mangled(&rust_tokens[4], &mut rng));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let future = fernet.encrypt_at_time(b"future", now + 3600);
    let old = fernet.encrypt_at_time(b"old", now - 3600);
    verdict_tokens.push(future.clone());
    let ttl_checks = vec![(future.clone(), 7200), (old.clone(), 60), (old.clone(), 7200)];

    let request = Request {
        key: key.clone(),
        encrypt: messages.iter().map(|m| STANDARD.encode(m)).collect(),
        decrypt: rust_tokens.clone(),
        verdicts: verdict_tokens.clone(),
        ttl_checks: ttl_checks.clone(),
    };
    let Some(response) = ask_python(&request) else {
        return;
    };
    eprintln!("python cryptography {}", response.version);

    // Rust encrypts, Python decrypts.
    assert_eq!(response.plaintexts.len(), messages.len());
    for (message, plaintext) in messages.iter().zip(&response.plaintexts) {
        assert_eq!(&STANDARD.decode(plaintext).unwrap(), message);
    }
    // Python encrypts, Rust decrypts (with and without a TTL).
    assert_eq!(response.tokens.len(), messages.len());
    for (message, token) in messages.iter().zip(&response.tokens) {
        assert_eq!(&fernet.decrypt(token).unwrap(), message);
        assert_eq!(
            &fernet.decrypt_with_ttl(token, Duration::from_secs(600)).unwrap(),
            message
        );
    }
    // Same verdicts on mangled tokens (alphabets, padding, junk characters)
    // and on a token stamped an hour ahead, decrypted without a TTL.
    assert_eq!(response.verdicts.len(), verdict_tokens.len());
    let mut accepted = 0;
    for (token, python_accepts) in verdict_tokens.iter().zip(&response.verdicts) {
        assert_eq!(
            fernet.decrypt(token).is_ok(),
            *python_accepts,
            "verdicts differ on {token:?}"
        );
        accepted += usize::from(*python_accepts);
    }
    assert!(accepted > 2 && accepted < verdict_tokens.len(), "cases not mixed");
    // And the same TTL verdicts.
    for ((token, ttl), python_accepts) in ttl_checks.iter().zip(&response.ttl_verdicts) {
        let ours = fernet.decrypt_with_ttl(token, Duration::from_secs(*ttl)).is_ok();
        assert_eq!(ours, *python_accepts, "ttl verdicts differ for ttl {ttl}");
    }
    assert_eq!(response.ttl_verdicts, vec![false, false, true]);
}
