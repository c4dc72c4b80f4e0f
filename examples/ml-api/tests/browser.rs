//! The interactive docs in a real browser: headless Chromium (driven through chromedriver with
//! fantoccini) opens `/docs` on the running server, authorizes with the OAuth2 password flow as
//! `admin`, runs `POST /predict` from the page and sees a 200 with a prediction. The page must
//! work under its own CSP without a single violation. A screenshot is saved to
//! `target/test-artifacts/docs-page.png`.
//!
//! Needs the Debian packages `chromium` and `chromium-driver` (`.ci/run` installs them). Without
//! them the test fails in CI and is skipped with a message otherwise (`mlguard_testkit`'s skip
//! rule).

mod common;

use common::*;
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(30);

/// Chromium's flags: headless, no sandbox (containers), nothing that calls home.
const CHROMIUM_FLAGS: [&str; 10] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--ignore-certificate-errors",
    "--window-size=1280,1400",
];

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

/// chromedriver on a free loopback port, killed on drop.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start(program: &Path) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(program)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let deadline = Instant::now() + TIMEOUT;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, port }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    target.join("test-artifacts")
}

async fn connect(driver: &Driver, chromium: &Path, profile: &Path) -> Client {
    let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|s| (*s).to_owned()).collect();
    args.push(format!("--user-data-dir={}", profile.display()));
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({ "binary": chromium, "args": args }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a Chromium session")
}

async fn wait_for(client: &Client, css: &str) -> Result<Element, String> {
    client
        .wait()
        .at_most(TIMEOUT)
        .for_element(Locator::Css(css))
        .await
        .map_err(|e| format!("{css} did not appear: {e}"))
}

/// Waits until the text of `css` satisfies `ok`; returns it.
async fn wait_for_text(client: &Client, css: &str, ok: impl Fn(&str) -> bool) -> Result<String, String> {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let text = match client.find(Locator::Css(css)).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if ok(&text) {
            return Ok(text);
        }
        if Instant::now() > deadline {
            return Err(format!("{css}: text never matched; last: {text:?}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Records every CSP violation of a page in `window.__csp`, from before its first script.
const WATCH_CSP: &str = "window.__csp = []; \
    document.addEventListener('securitypolicyviolation', \
      e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sourceFile));";

/// chromedriver's DevTools passthrough: runs `WATCH_CSP` in every new document.
#[derive(Debug)]
struct WatchCspFromTheStart;

impl fantoccini::wd::WebDriverCompatibleCommand for WatchCspFromTheStart {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _url: &url::Url) -> (http::Method, Option<String>) {
        let body = serde_json::json!({
            "cmd": "Page.addScriptToEvaluateOnNewDocument",
            "params": { "source": WATCH_CSP },
        });
        (http::Method::POST, Some(body.to_string()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docs_page_authorizes_with_the_password_flow_and_predicts() {
    let chromium = find_program(&["chromium", "chromium-browser", "google-chrome"]);
    let chromedriver = find_program(&["chromedriver"]);
    let (Some(chromium), Some(chromedriver)) = (chromium, chromedriver) else {
        mlguard_testkit::missing_dependency(
            "docs_page_authorizes_with_the_password_flow_and_predicts",
            "chromium and chromedriver are needed (apt-get install chromium chromium-driver)",
        );
        return;
    };

    let s = start_with(|c| c.no_tls = Some(true)).await;
    let driver = Driver::start(&chromedriver);
    let profile = tempfile::tempdir().unwrap();
    let client = connect(&driver, &chromium, profile.path()).await;
    let outcome = drive(&client, &s).await;
    // The screenshot is taken whatever happened: it is the first thing to look at on failure.
    if let Ok(png) = client.screenshot().await {
        let dir = artifacts_dir();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("docs-page.png"), png).unwrap();
    }
    let _ = client.close().await;
    drop(driver);
    s.stop().await;
    let violations = outcome.unwrap_or_else(|e| panic!("{e}"));
    assert!(violations.is_empty(), "CSP violations on /docs: {violations:?}");
}

/// The user's path through the page; returns the CSP violations seen.
async fn drive(client: &Client, s: &TestServer) -> Result<Vec<String>, String> {
    client
        .issue_cmd(WatchCspFromTheStart)
        .await
        .map_err(|e| e.to_string())?;
    client.goto(&s.url("/docs")).await.map_err(|e| e.to_string())?;
    wait_for(client, "#operations-model-predict").await?;

    // Authorize: the OAuth2 password flow, as admin.
    wait_for(client, ".auth-wrapper button.authorize")
        .await?
        .click()
        .await
        .map_err(|e| e.to_string())?;
    let username = wait_for(client, "#oauth_username").await?;
    username.send_keys("admin").await.map_err(|e| e.to_string())?;
    let password = client
        .find(Locator::Css("#oauth_password"))
        .await
        .map_err(|e| e.to_string())?;
    password
        .send_keys(&s.admin_password)
        .await
        .map_err(|e| e.to_string())?;
    let container = "//input[@id='oauth_username']/ancestor::div[contains(@class,'auth-container')]";
    client
        .find(Locator::XPath(&format!(
            "{container}//button[contains(@class,'authorize')]"
        )))
        .await
        .map_err(|e| e.to_string())?
        .click()
        .await
        .map_err(|e| e.to_string())?;
    // Authorized: the password form is replaced by a Logout button.
    let logout = client
        .wait()
        .at_most(TIMEOUT)
        .for_element(Locator::XPath(
            "//div[contains(@class,'auth-container')][.//h4[contains(., 'oauth2_password')]]//button[normalize-space(.)='Logout']",
        ))
        .await;
    if logout.is_err() {
        let modal = client
            .find(Locator::Css(".modal-ux-content"))
            .await
            .map_err(|e| e.to_string())?
            .text()
            .await
            .unwrap_or_default();
        return Err(format!(
            "authorization did not complete; the dialog shows: {modal}"
        ));
    }
    client
        .find(Locator::Css(".modal-ux-content button.btn-done"))
        .await
        .map_err(|e| e.to_string())?
        .click()
        .await
        .map_err(|e| e.to_string())?;

    // POST /predict from the page.
    let op = "#operations-model-predict";
    wait_for(client, &format!("{op} .opblock-summary-control"))
        .await?
        .click()
        .await
        .map_err(|e| e.to_string())?;
    let try_out = wait_for(client, &format!("{op} .try-out__btn")).await?;
    if try_out.text().await.map_err(|e| e.to_string())?.trim() == "Try it out" {
        try_out.click().await.map_err(|e| e.to_string())?;
    }
    let body = wait_for(client, &format!("{op} textarea.body-param__text")).await?;
    body.clear().await.map_err(|e| e.to_string())?;
    body.send_keys(SETOSA).await.map_err(|e| e.to_string())?;
    wait_for(client, &format!("{op} button.execute"))
        .await?
        .click()
        .await
        .map_err(|e| e.to_string())?;
    let status = wait_for_text(
        client,
        &format!("{op} .live-responses-table .response .response-col_status"),
        |t| !t.trim().is_empty(),
    )
    .await?;
    let shown = wait_for_text(
        client,
        &format!("{op} .live-responses-table .response .response-col_description"),
        |t| t.contains("prediction"),
    )
    .await?;
    if status.trim() != "200" {
        return Err(format!("the page shows {status}: {shown}"));
    }
    if !(shown.contains("\"class\"") && shown.contains("setosa")) {
        return Err(format!("no setosa prediction shown: {shown}"));
    }
    // The page sent admin's bearer token from the password flow (curl line shown by the UI).
    let curl = wait_for_text(client, &format!("{op} .curl-command"), |t| !t.is_empty()).await?;
    if !curl.contains("Authorization: Bearer ") {
        return Err(format!(
            "the request was not authorized with the bearer token: {curl}"
        ));
    }
    client
        .execute(
            "document.querySelector(arguments[0]).scrollIntoView(); return true;",
            vec![serde_json::json!(op)],
        )
        .await
        .map_err(|e| e.to_string())?;
    let violations = csp_violations(client).await?;

    // Control: the watcher sees a violation when there is one. An inline
    // script is refused by the page's `script-src 'self'`; without this, an
    // empty list could also mean the watcher never ran.
    let ran = client
        .execute(
            "const s = document.createElement('script'); \
             s.textContent = 'window.__inline_ran = true;'; \
             document.body.appendChild(s); \
             return window.__inline_ran === true;",
            vec![],
        )
        .await
        .map_err(|e| e.to_string())?;
    if ran != serde_json::Value::Bool(false) {
        return Err(format!("an inline script ran under the docs CSP: {ran}"));
    }
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let seen = csp_violations(client).await?;
        if seen.len() > violations.len() {
            let control = &seen[violations.len()..];
            if !control.iter().any(|v| v.starts_with("script-src")) {
                return Err(format!("the control violation was not script-src: {control:?}"));
            }
            break;
        }
        if Instant::now() > deadline {
            return Err("the CSP watcher saw no violation for an inline script".to_owned());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(violations)
}

/// The violations recorded by `WATCH_CSP`; an error if it is not installed.
async fn csp_violations(client: &Client) -> Result<Vec<String>, String> {
    let recorded = client
        .execute("return window.__csp;", vec![])
        .await
        .map_err(|e| e.to_string())?;
    let Some(list) = recorded.as_array() else {
        return Err(format!(
            "the CSP watcher is not installed on the page (window.__csp = {recorded})"
        ));
    };
    Ok(list
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_owned())
        .collect())
}
