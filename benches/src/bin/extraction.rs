//! The model-extraction evaluation (issue 18): attackers with valid API keys against the real
//! `ml-api` over HTTPS, each training a surrogate decision tree (linfa) from the answers, and
//! benign clients replaying held-out iris rows.
//!
//! Run it with `scripts/extraction` (release build). The server runs with
//! `MLGUARD_EXTRACTION_ACTION=log` (attacks continue after an alarm, so fidelity keeps being
//! measured) and high rate limits and budget. Alarms are read from `/metrics`
//! (`mlguard_extraction_alarms_total`) after each request; each attacker and each benign client
//! runs alone, so the counter's increase belongs to it.
//!
//! Attacks: (a) uniform random over the feature box; (b) line searches along each feature
//! through random anchors in the box, bisecting where the answer changes (label, or the
//! probabilities when shown), after Tramèr et al.'s path-finding; (c) public iris rows with
//! ±5 % jitter. Output policies: `full` (admin key, 15 decimals), `2 decimals` (admin key),
//! `label only` (client key). Fidelity: agreement of the surrogate with the served model on
//! 10,000 fixed points, half drawn around the iris rows (data distribution), half uniform over
//! the box.
//!
//! It exits non-zero unless the goals hold: for (a) and (b), under every policy, the first
//! alarm comes no later than the first checkpoint at which the surrogate reaches 90 %
//! fidelity; and no benign client raises an alarm. (c) is reported, not judged.
//!
//! Knobs: `EXTRACTION_SCALE` (1.0; 0.1 for a quick run: the CI test), `ML_API` (the server
//! binary; default: `ml-api` beside this binary).

use linfa::prelude::*;
use linfa_trees::DecisionTree;
use mlguard_benches::live::{self, LiveServer};
use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use std::process::ExitCode;

const BOX: [(f64, f64); 4] = [(4.3, 7.9), (2.0, 4.4), (1.0, 6.9), (0.1, 2.5)];
const CHECKPOINTS: [usize; 4] = [100, 300, 1000, 3000];
const BATCH: usize = 10;

struct Client {
    http: reqwest::Client,
    base: String,
    key: String,
    admin: String,
}

/// One answer: class and (maybe) probabilities.
type Answer = (usize, Option<Vec<f64>>);
/// Receives the queries of attack (b) and their answers.
type Record<'a> = dyn FnMut(&[[f64; 4]], &[Answer]) + 'a;

impl Client {
    async fn batch(&self, key: &str, rows: &[[f64; 4]]) -> Result<Vec<Answer>, String> {
        let instances: Vec<Value> = rows
            .iter()
            .map(|x| json!({"sepal_length": x[0], "sepal_width": x[1], "petal_length": x[2], "petal_width": x[3]}))
            .collect();
        let r = self
            .http
            .post(format!("{}/predict/batch", self.base))
            .header("x-api-key", key)
            .json(&json!({ "instances": instances }))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = r.status();
        let body: Value = r.json().await.map_err(|e| e.to_string())?;
        if status != 200 {
            return Err(format!("status {status}: {body}"));
        }
        Ok(body["predictions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                let class = p["prediction"].as_u64().unwrap_or(0) as usize;
                let probs = p["probabilities"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_f64).collect());
                (class, probs)
            })
            .collect())
    }

    async fn alarms(&self) -> f64 {
        let Ok(r) = self
            .http
            .get(format!("{}/metrics", self.base))
            .header("x-api-key", &self.admin)
            .send()
            .await
        else {
            return 0.0;
        };
        let text = r.text().await.unwrap_or_default();
        text.lines()
            .filter(|l| l.starts_with("mlguard_extraction_alarms_total"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

fn uniform(rng: &mut ChaCha8Rng) -> [f64; 4] {
    let mut x = [0.0; 4];
    for (v, (lo, hi)) in x.iter_mut().zip(BOX) {
        *v = round2(rng.gen_range(lo..=hi));
    }
    x
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn jitter(rng: &mut ChaCha8Rng, row: &[f64], fraction: f64) -> [f64; 4] {
    let mut x = [0.0; 4];
    for (i, v) in x.iter_mut().enumerate() {
        *v = round2((row[i] * (1.0 + rng.gen_range(-fraction..=fraction))).max(0.01));
    }
    x
}

/// The query stream of attack (b): line searches along each feature through random anchors,
/// bisecting each change of answer to 0.01 cm. Generated lazily: it needs the answers.
async fn line_search_stream(
    c: &Client,
    key: &str,
    rng: &mut ChaCha8Rng,
    budget: usize,
    on: &mut Record<'_>,
    alarm: &mut Alarm,
) -> Result<(), String> {
    let mut spent = 0;
    let same = |a: &Answer, b: &Answer| a.0 == b.0 && a.1 == b.1;
    while spent < budget {
        let anchor = uniform(rng);
        for f in 0..4 {
            let (lo, hi) = BOX[f];
            // A coarse sweep of 10 points along feature f.
            let sweep: Vec<[f64; 4]> = (0..BATCH)
                .map(|k| {
                    let mut x = anchor;
                    x[f] = round2(lo + (hi - lo) * k as f64 / (BATCH - 1) as f64);
                    x
                })
                .collect();
            let answers = c.batch(key, &sweep).await?;
            on(&sweep, &answers);
            spent += sweep.len();
            alarm.after(c, sweep.len()).await;
            // Bisect each interval whose ends differ, a few steps at once per request.
            for k in 0..sweep.len().saturating_sub(1) {
                if spent >= budget {
                    return Ok(());
                }
                if same(&answers[k], &answers[k + 1]) {
                    continue;
                }
                let (mut a, mut b) = (sweep[k][f], sweep[k + 1][f]);
                let mut ans_a = answers[k].clone();
                while b - a > 0.01 && spent < budget {
                    let mut x = anchor;
                    x[f] = round2((a + b) / 2.0);
                    if x[f] <= a || x[f] >= b {
                        break; // 0.01 cm resolution reached
                    }
                    let got = c.batch(key, &[x]).await?;
                    on(&[x], &got);
                    spent += 1;
                    alarm.after(c, 1).await;
                    if same(&got[0], &ans_a) {
                        a = x[f];
                        ans_a = got[0].clone();
                    } else {
                        b = x[f];
                    }
                }
            }
            if spent >= budget {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Finds the query at which the attacker's first alarm fired (the alarm counter rose).
struct Alarm {
    before: f64,
    sent: usize,
    first: Option<usize>,
}

impl Alarm {
    async fn after(&mut self, c: &Client, queries: usize) {
        self.sent += queries;
        if self.first.is_none() && c.alarms().await > self.before {
            self.first = Some(self.sent);
        }
    }
}

fn fidelity(train_x: &[[f64; 4]], train_y: &[usize], eval: &Array2<f64>, truth: &[usize]) -> f64 {
    if train_x.is_empty() {
        return 0.0;
    }
    let x = Array2::from_shape_vec((train_x.len(), 4), train_x.iter().flatten().copied().collect())
        .unwrap_or_else(|_| Array2::zeros((0, 4)));
    let y = Array1::from(train_y.to_vec());
    let ds = Dataset::new(x, y);
    let Ok(tree) = DecisionTree::params().max_depth(None).fit(&ds) else {
        return 0.0;
    };
    let pred = tree.predict(eval);
    let agree = pred.iter().zip(truth).filter(|(a, b)| a == b).count();
    agree as f64 / truth.len() as f64
}

struct Row {
    attack: &'static str,
    policy: &'static str,
    fidelity: Vec<f64>,
    first_alarm: Option<usize>,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("extraction: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let scale: f64 = std::env::var("EXTRACTION_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1.0);
    let n = |v: usize| ((v as f64 * scale).round() as usize).max(1);
    let ml_api = live::ml_api_binary()?;
    let iris = mlguard_model::iris();
    let (_train, held_out) = iris
        .stratified_split(mlguard_model::DEFAULT_TEST_FRACTION, mlguard_model::DEFAULT_SEED)
        .map_err(|e| e.to_string())?;
    let all_rows: Vec<Vec<f64>> = iris.features().rows().into_iter().map(|r| r.to_vec()).collect();
    let held: Vec<Vec<f64>> = held_out
        .features()
        .rows()
        .into_iter()
        .map(|r| r.to_vec())
        .collect();

    // The evaluation points: half around the data, half uniform over the box.
    let mut rng = ChaCha8Rng::seed_from_u64(2016);
    let n_eval = n(10_000);
    let eval_rows: Vec<[f64; 4]> = (0..n_eval)
        .map(|i| {
            if i % 2 == 0 {
                let r = &all_rows[rng.gen_range(0..all_rows.len())];
                jitter(&mut rng, r, 0.05)
            } else {
                uniform(&mut rng)
            }
        })
        .collect();
    let eval = Array2::from_shape_vec(
        (eval_rows.len(), 4),
        eval_rows.iter().flatten().copied().collect(),
    )
    .map_err(|e| e.to_string())?;

    let checkpoints: Vec<usize> = CHECKPOINTS.iter().map(|&c| n(c)).collect();
    let max_q = *checkpoints.last().unwrap_or(&1);
    let mut table = Vec::new();
    let mut benign_false_alarms = None;
    let mut truth: Vec<usize> = Vec::new();
    for (decimals, policies) in [
        ("15", vec![("full", "admin")]),
        ("2", vec![("2 decimals", "admin"), ("label only", "client")]),
    ] {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).map_err(|e| e.to_string())?;
        let env = [
            ("MLGUARD_EXTRACTION_ACTION", "log".to_owned()),
            ("MLGUARD_PROBABILITY_DECIMALS", decimals.to_owned()),
            ("MLGUARD_PREDICT_RATE", "1000000/minute".to_owned()),
            ("MLGUARD_PREDICT_BUDGET", "100000000/day".to_owned()),
            ("MLGUARD_MAX_IN_FLIGHT_PER_PRINCIPAL", "64".to_owned()),
        ];
        let server = LiveServer::start(&ml_api, &data, &dir.path().join("server.log"), &env).await?;
        let http = server.client(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
        let admin = server.create_key(&ml_api, &data, "oracle", "admin").await?;
        let base = Client {
            http: http.clone(),
            base: server.base.clone(),
            key: admin.clone(),
            admin: admin.clone(),
        };
        if truth.is_empty() {
            for chunk in eval_rows.chunks(100) {
                truth.extend(base.batch(&base.key, chunk).await?.into_iter().map(|a| a.0));
            }
        }
        for (policy, role) in policies {
            for attack in ["(a) uniform random", "(b) line search", "(c) jittered iris"] {
                let key = server
                    .create_key(
                        &ml_api,
                        &data,
                        &format!("{attack}-{policy}").replace([' ', '(', ')'], ""),
                        role,
                    )
                    .await?;
                let mut rng = ChaCha8Rng::seed_from_u64(7);
                let before = base.alarms().await;
                let mut xs: Vec<[f64; 4]> = Vec::new();
                let mut ys: Vec<usize> = Vec::new();
                let mut first_alarm = None;
                let mut fid = Vec::new();
                if attack.starts_with("(b)") {
                    let mut alarm = Alarm {
                        before,
                        sent: 0,
                        first: None,
                    };
                    let mut record = |x: &[[f64; 4]], a: &[Answer]| {
                        xs.extend_from_slice(x);
                        ys.extend(a.iter().map(|a| a.0));
                    };
                    line_search_stream(&base, &key, &mut rng, max_q, &mut record, &mut alarm).await?;
                    first_alarm = alarm.first;
                    for &cp in &checkpoints {
                        let k = cp.min(xs.len());
                        fid.push(fidelity(&xs[..k], &ys[..k], &eval, &truth));
                    }
                } else {
                    while xs.len() < max_q {
                        let rows: Vec<[f64; 4]> = (0..BATCH)
                            .map(|_| {
                                if attack.starts_with("(a)") {
                                    uniform(&mut rng)
                                } else {
                                    let r = &all_rows[rng.gen_range(0..all_rows.len())];
                                    jitter(&mut rng, r, 0.05)
                                }
                            })
                            .collect();
                        let a = base.batch(&key, &rows).await?;
                        xs.extend_from_slice(&rows);
                        ys.extend(a.iter().map(|a| a.0));
                        if first_alarm.is_none() && base.alarms().await > before {
                            first_alarm = Some(xs.len());
                        }
                        if checkpoints.contains(&xs.len()) {
                            fid.push(fidelity(&xs, &ys, &eval, &truth));
                        }
                    }
                }
                eprintln!("{attack} / {policy}: fidelity {fid:?}, first alarm {first_alarm:?}");
                table.push(Row {
                    attack,
                    policy,
                    fidelity: fid,
                    first_alarm,
                });
            }
        }
        if benign_false_alarms.is_none() {
            // 50 clients, each replaying held-out rows with ±0.1 cm of noise.
            let per_client = n(200);
            let mut alarmed = 0;
            let mut queries = 0;
            for client in 0..50u64 {
                let key = server
                    .create_key(&ml_api, &data, &format!("benign{client}"), "client")
                    .await?;
                let mut rng = ChaCha8Rng::seed_from_u64(1000 + client);
                let before = base.alarms().await;
                let mut sent = 0;
                while sent < per_client {
                    let rows: Vec<[f64; 4]> = (0..20.min(per_client - sent))
                        .map(|_| {
                            let r = &held[rng.gen_range(0..held.len())];
                            let mut x = [0.0; 4];
                            for (i, v) in x.iter_mut().enumerate() {
                                *v = round2((r[i] + rng.gen_range(-0.1..=0.1)).max(0.01));
                            }
                            x
                        })
                        .collect();
                    base.batch(&key, &rows).await?;
                    sent += rows.len();
                }
                queries += sent;
                if base.alarms().await > before {
                    alarmed += 1;
                }
            }
            benign_false_alarms = Some((alarmed, queries));
        }
        let _ = server.stop().await;
    }

    println!(
        "| attack | output policy | fidelity after {} queries | first alarm at query |",
        checkpoints
            .iter()
            .map(|c| format!("{c}"))
            .collect::<Vec<_>>()
            .join(" / ")
    );
    println!("|---|---|---|---|");
    for r in &table {
        let f: Vec<String> = r.fidelity.iter().map(|v| format!("{:.1} %", v * 100.0)).collect();
        println!(
            "| {} | {} | {} | {} |",
            r.attack,
            r.policy,
            f.join(" / "),
            r.first_alarm.map_or("none".to_owned(), |q| q.to_string())
        );
    }
    let mut failures = Vec::new();
    if let Some((alarmed, queries)) = benign_false_alarms {
        println!(
            "\nbenign: 50 clients, {queries} queries of held-out iris rows ±0.1 cm: {alarmed} clients alarmed"
        );
        if alarmed > 0 {
            failures.push(format!("{alarmed} benign clients alarmed"));
        }
    }
    // Goal: for (a) and (b), an alarm no later than the first checkpoint at 90 % fidelity.
    for r in table.iter().filter(|r| !r.attack.starts_with("(c)")) {
        let reached = checkpoints
            .iter()
            .zip(&r.fidelity)
            .find(|(_, f)| **f >= 0.9)
            .map(|(cp, _)| *cp);
        let ok = match (r.first_alarm, reached) {
            (Some(alarm), Some(cp)) => alarm <= cp,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if !ok {
            failures.push(format!(
                "{} / {}: no alarm before 90 % fidelity",
                r.attack, r.policy
            ));
        }
    }
    if failures.is_empty() {
        println!("goals met: alarms before 90 % fidelity for (a) and (b); no benign false alarm");
        Ok(())
    } else {
        Err(format!("goals not met: {}", failures.join("; ")))
    }
}
