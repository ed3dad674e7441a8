//! The tenant UI in real headless Chromium (Debian's `chromium` + `chromium-driver`, driven over
//! WebDriver), through the real proxy binary in front of a real vertical, with the engines'
//! relay and worker running in process so insights appear. Tenants are reached by subdomain:
//! `http://acme.localhost:<port>` (Chromium resolves `*.localhost` to loopback).
//!
//! Screenshots of the main pages at phone (390 px) and desktop (1280 px) widths are written to
//! `<target>/ui-screenshots/`. Without chromedriver the test fails, loudly: `tests/run.sh`
//! installs it, so a missing browser is a broken machine, not a reason to pass.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use engines::metrics::Metrics;
use engines::relay::OutboxRelay;
use engines::worker::EventWorker;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use stack::{eventually, Stack, PASSWORD};
use tokio::sync::watch;

const WAIT: Duration = Duration::from_secs(30);

use harness::KillOnDrop as Killed;

fn chromedriver() -> PathBuf {
    let found =
        std::env::var_os("PATH").into_iter().flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>()).map(|d| d.join("chromedriver")).find(|p| p.is_file());
    found.unwrap_or_else(|| {
        panic!("chromedriver not found on PATH: install Debian's `chromium` and `chromium-driver` (tests/ensure-packages.sh does; tests/run.sh runs it)")
    })
}

async fn start_proxy(stack: &Stack) -> (Killed, SocketAddr) {
    let http: SocketAddr = format!("127.0.0.1:{}", harness::free_port()).parse().unwrap();
    let sock = std::env::temp_dir().join(format!("bc-upgrade-{}.sock", uuid::Uuid::new_v4().simple()));
    let child = Command::new(stack::workspace_binary("basecommerce-proxy"))
        .envs(stack.edge_env())
        .env("BASECOMMERCE_EDGE__SECRET", stack.settings.edge.secret.as_ref().unwrap().expose())
        .env("BASECOMMERCE_PROXY__HTTP_LISTEN", http.to_string())
        .env("BASECOMMERCE_PROXY__HTTPS_LISTEN", format!("127.0.0.1:{}", harness::free_port()))
        .env("BASECOMMERCE_PROXY__BASE_DOMAINS", "[localhost]")
        .env("BASECOMMERCE_PROXY__UPSTREAMS", format!("[{}]", stack.vertical))
        .env("BASECOMMERCE_PROXY__METRICS_LISTEN", format!("127.0.0.1:{}", harness::free_port()))
        .env("BASECOMMERCE_PROXY__UPGRADE_SOCK", sock)
        .env("BASECOMMERCE_PROXY__RATE_LIMIT_PER_MINUTE", "10000")
        .env("BASECOMMERCE_PROXY__LOGIN_RATE_LIMIT_PER_MINUTE", "10000")
        .env("BASECOMMERCE_LOG__LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    eventually(WAIT, "proxy up", || async { client.get(format!("http://{http}/health")).send().await.ok().map(|_| ()) }).await;
    (Killed(child), http)
}

async fn start_chromedriver() -> (Killed, String) {
    let port = harness::free_port();
    let child = Command::new(chromedriver()).arg(format!("--port={port}")).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    eventually(WAIT, "chromedriver up", || async { client.get(format!("{url}/status")).send().await.ok().filter(|r| r.status().is_success()).map(|_| ()) })
        .await;
    (Killed(child), url)
}

/// A browser session of its own (fresh profile: no shared cookies).
async fn browser(driver: &str, profile: &std::path::Path) -> Client {
    // Without these, headless Chromium on a machine with no network waits on Google hosts.
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
    ];
    let mut args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    args.push(format!("--user-data-dir={}", profile.display()));
    let caps = json!({ "goog:chromeOptions": { "binary": "/usr/bin/chromium", "args": args } });
    let caps = caps.as_object().unwrap().clone();
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(driver)
        .await
        .expect("a Chromium session (is the `chromium` package installed?)")
}

async fn body_text(c: &Client) -> String {
    c.find(Locator::Css("body")).await.unwrap().text().await.unwrap()
}

/// Waits until the element matching `css` shows `text`.
async fn wait_text(c: &Client, css: &str, text: &str) {
    let start = std::time::Instant::now();
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            if e.text().await.map(|t| t.contains(text)).unwrap_or(false) {
                return;
            }
        }
        if start.elapsed() > WAIT {
            panic!("`{css}` never showed {text:?}; page: {}", body_text(c).await);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn fill(c: &Client, id: &str, value: &str) {
    let e = c.find(Locator::Id(id)).await.unwrap_or_else(|_| panic!("no #{id}"));
    e.clear().await.unwrap();
    e.send_keys(value).await.unwrap();
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css)).await.unwrap_or_else(|_| panic!("no {css}")).click().await.unwrap();
}

async fn path(c: &Client) -> String {
    c.current_url().await.unwrap().path().to_owned()
}

async fn login(c: &Client, base: &str, email: &str, password: &str) {
    c.goto(&format!("{base}/")).await.unwrap();
    c.wait().at_most(WAIT).for_element(Locator::Id("email")).await.unwrap();
    fill(c, "email", email).await;
    fill(c, "password", password).await;
    click(c, "form button[type=submit]").await;
}

/// Screenshots of the current page at phone and desktop widths; the page with its stylesheet
/// and script stays within the 50 KB budget.
async fn shoot(c: &Client, dir: &std::path::Path, name: &str) {
    let html = c.source().await.unwrap().len();
    let assets = include_str!("../../../vertical/assets/app.css").len() + include_str!("../../../vertical/assets/app.js").len();
    eprintln!("page {name}: {html} bytes of HTML + {assets} bytes of CSS and JS");
    assert!(html + assets < 50_000, "{name}: {html} + {assets} bytes");
    for (width, height, label) in [(390, 844, "phone"), (1280, 900, "desktop")] {
        c.set_window_size(width, height).await.unwrap();
        c.refresh().await.unwrap();
        let png = c.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        std::fs::write(dir.join(format!("{name}-{label}.png")), png).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_runs_its_day_in_chromium_and_another_tenant_sees_none_of_it() {
    let driver_path = chromedriver();
    let stack = Stack::start().await;
    let acme = stack.tenant("acme").await;
    stack.tenant("beta").await;

    // Relay and worker in process, so the delivered sale becomes a stock alert.
    let settings = Arc::new(stack.settings.clone());
    let (stop, rx) = watch::channel(false);
    let url = settings.redis.url.clone().unwrap();
    let relay = OutboxRelay::new(settings.clone(), infra::redis::connect(&url).await.unwrap(), Metrics::new());
    let pool = infra::db::pool(settings.require_engines_database_url().unwrap(), &settings.database, 4).unwrap();
    let worker =
        EventWorker::new(settings.clone(), pool, infra::redis::connect(&url).await.unwrap(), infra::redis::connect(&url).await.unwrap(), Metrics::new());
    let tasks = [tokio::spawn(relay.run(rx.clone())), tokio::spawn(worker.run(rx))];

    let (_proxy, edge) = start_proxy(&stack).await;
    let (_driver, driver) = start_chromedriver().await;
    assert!(driver_path.is_file());
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().join("ui-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let profiles = std::env::temp_dir().join(format!("bc-chromium-{}", uuid::Uuid::new_v4().simple()));
    let base = format!("http://acme.localhost:{}", edge.port());
    let admin = format!("admin@{}.test", acme.slug);

    let c = browser(&driver, &profiles.join("a")).await;

    // A wrong password shows the error on the tenant's own login page.
    login(&c, &base, &admin, "not the password").await;
    wait_text(&c, "#login-error", "Invalid e-mail or password").await;
    assert!(body_text(&c).await.contains("acme"), "the tenant's name is on its login page");
    shoot(&c, &shots, "login").await;

    login(&c, &base, &admin, PASSWORD).await;
    wait_text(&c, "h1", "Dashboard").await;

    // A client and its job site.
    c.goto(&format!("{base}/clients/new")).await.unwrap();
    c.find(Locator::Id("f-kind")).await.unwrap().select_by_value("company").await.unwrap();
    fill(&c, "f-name", "Construtora Alfa").await;
    fill(&c, "f-document", "12.345.678/0001-90").await;
    fill(&c, "f-city", "Campinas").await;
    click(&c, "form.form button[type=submit]").await;
    wait_text(&c, ".flash", "Client created.").await;
    click(&c, "a[href$='/sites/new']").await;
    wait_text(&c, "h1", "New job site").await;
    fill(&c, "f-name", "Obra Centro").await;
    fill(&c, "f-city", "Campinas").await;
    fill(&c, "f-postal_code", "13010-100").await;
    click(&c, "form.form button[type=submit]").await;
    wait_text(&c, ".flash", "Job site created.").await;
    assert!(body_text(&c).await.contains("Obra Centro"));

    // Products; the first try has a bad price and keeps the input.
    for (code, name, unit, price) in [("CIM", "Cimento 50kg", "UN", "32.00"), ("ARE", "Areia m3", "M3", "45.90")] {
        c.goto(&format!("{base}/products/new")).await.unwrap();
        fill(&c, "f-code", code).await;
        fill(&c, "f-name", name).await;
        c.find(Locator::Id("f-unit")).await.unwrap().select_by_value(unit).await.unwrap();
        fill(&c, "f-base_price", if code == "CIM" { "0" } else { price }).await;
        click(&c, "form.form button[type=submit]").await;
        if code == "CIM" {
            wait_text(&c, "#f-base_price-err", "greater than 0").await;
            assert_eq!(c.find(Locator::Id("f-name")).await.unwrap().prop("value").await.unwrap().as_deref(), Some(name), "input kept");
            fill(&c, "f-base_price", price).await;
            click(&c, "form.form button[type=submit]").await;
        }
        wait_text(&c, ".flash", "Product created.").await;
    }

    // A product image from the edit page: refused when it is not an image, then a real photo
    // appears as its resized WebP (made by the engines worker).
    let photo = profiles.join("photo.jpg");
    let script = profiles.join("innocent.jpg");
    std::fs::create_dir_all(&profiles).unwrap();
    let img = image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(900, 600, |x, y| image::Rgb([(x / 4) as u8, (y / 3) as u8, 120])));
    img.save_with_format(&photo, image::ImageFormat::Jpeg).unwrap();
    std::fs::write(&script, b"#!/bin/sh\necho not an image\n").unwrap();
    c.goto(&format!("{base}/products")).await.unwrap();
    click(&c, "a[href$='/edit']").await;
    wait_text(&c, "#h-image", "Image").await;
    for (file, expect) in [(&script, "not a JPEG, PNG or WebP"), (&photo, "Image uploaded")] {
        c.find(Locator::Id("file")).await.unwrap().send_keys(&file.display().to_string()).await.unwrap();
        click(&c, "form[enctype='multipart/form-data'] button").await;
        wait_text(&c, if expect.starts_with("Image") { ".flash" } else { ".alert" }, expect).await;
    }
    let start = std::time::Instant::now();
    loop {
        let loaded = c.execute("const i = document.querySelector('img.preview'); return i && i.complete ? i.naturalWidth : 0;", vec![]).await.unwrap();
        if loaded.as_u64() == Some(480) {
            break; // the card variant: 900×600 scaled to 480 wide
        }
        assert!(start.elapsed() < WAIT, "the card image never appeared (naturalWidth {loaded})");
        tokio::time::sleep(Duration::from_millis(300)).await;
        c.refresh().await.unwrap();
    }
    shoot(&c, &shots, "product").await;

    // Some stock arrives (less than will be sold).
    c.goto(&format!("{base}/stock")).await.unwrap();
    c.find(Locator::Id("r-product_id")).await.unwrap().select_by_label("CIM — Cimento 50kg").await.unwrap();
    fill(&c, "r-quantity", "4").await;
    click(&c, "form[action='/stock/receipts'] button[type=submit]").await;
    wait_text(&c, ".flash", "Stock received.").await;

    // New quote: client → site → products with quantities and discounts → totals.
    c.goto(&format!("{base}/quotes/new")).await.unwrap();
    c.find(Locator::Id("f-client_id")).await.unwrap().select_by_label("Construtora Alfa (12.345.678/0001-90)").await.unwrap();
    click(&c, "form.form button[type=submit]").await;
    wait_text(&c, "h2", "2. Job site").await;
    click(&c, "form.form button[type=submit]").await;
    wait_text(&c, ".flash", "Draft quote created").await;
    for (label, qty, disc) in [("CIM", "10", "0"), ("ARE", "3", "10")] {
        let row = c.find(Locator::XPath(&format!("//tr[td[starts-with(normalize-space(.), '{label} —')]]"))).await.unwrap();
        let q = row.find(Locator::Css("input[name=quantity]")).await.unwrap();
        q.clear().await.unwrap();
        q.send_keys(qty).await.unwrap();
        let d = row.find(Locator::Css("input[name=discount_percent]")).await.unwrap();
        d.clear().await.unwrap();
        d.send_keys(disc).await.unwrap();
        row.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
        wait_text(&c, ".flash", "Product added").await;
    }
    wait_text(&c, "#total", "443.93").await; // 10 × 32.00 + 3 × 45.90 × 0.9
                                             // The script updates the totals while typing (the server's figures replace them on save).
    fill(&c, "discount_percent", "5").await;
    wait_text(&c, "#total", "421.73").await;
    click(&c, "form[data-live-totals] button[type=submit]").await;
    wait_text(&c, ".flash", "Quote saved").await;
    wait_text(&c, "#subtotal", "443.93").await;
    wait_text(&c, "#total", "421.73").await;
    shoot(&c, &shots, "quote").await;
    let acme_quote = path(&c).await;

    for (button, flash) in [("/send", "Quote sent."), ("/approve", "Quote approved."), ("/convert", "Order created from the quote.")] {
        click(&c, &format!("form[action$='{button}'] button")).await;
        wait_text(&c, ".flash", flash).await;
    }
    assert!(path(&c).await.starts_with("/orders/"));
    wait_text(&c, "#total", "421.73").await;
    for to in ["Preparing", "Out for delivery", "Delivered"] {
        let button = c.find(Locator::XPath(&format!("//button[contains(., '{to}')]"))).await.unwrap();
        button.click().await.unwrap();
        wait_text(&c, ".flash", "Order status changed.").await;
    }
    wait_text(&c, ".badge", "Delivered").await;
    shoot(&c, &shots, "order").await;

    // The engines' alert: 10 sold with 4 on hand.
    c.goto(&format!("{base}/insights")).await.unwrap();
    let start = std::time::Instant::now();
    while !c.find(Locator::Css("section[aria-labelledby=h-alerts]")).await.unwrap().text().await.unwrap().contains("Cimento 50kg") {
        assert!(start.elapsed() < WAIT, "the stock alert never appeared: {}", body_text(&c).await);
        tokio::time::sleep(Duration::from_millis(300)).await;
        c.refresh().await.unwrap();
    }
    let alerts = c.find(Locator::Css("section[aria-labelledby=h-alerts]")).await.unwrap().text().await.unwrap();
    assert!(alerts.contains("High") && alerts.contains("Yes"), "high risk, oversold: {alerts}");
    shoot(&c, &shots, "insights").await;
    c.goto(&format!("{base}/")).await.unwrap();
    wait_text(&c, ".stats", "421.73").await; // the delivered order is this week's revenue
    shoot(&c, &shots, "dashboard").await;

    // Another tenant, another browser session: none of it.
    let other = browser(&driver, &profiles.join("b")).await;
    let beta = format!("http://beta.localhost:{}", edge.port());
    login(&other, &beta, "admin@beta.test", PASSWORD).await;
    wait_text(&other, "h1", "Dashboard").await;
    for page in ["/clients", "/products", "/quotes", "/orders", "/insights"] {
        other.goto(&format!("{beta}{page}")).await.unwrap();
        let text = body_text(&other).await;
        for leaked in ["Construtora Alfa", "Cimento", "Q-000001", "O-000001"] {
            assert!(!text.contains(leaked), "beta sees {leaked} on {page}");
        }
    }
    other.goto(&format!("{beta}{acme_quote}")).await.unwrap();
    wait_text(&other, "h1", "Page not found.").await;
    other.close().await.unwrap();

    // Logging out ends the session.
    click(&c, "form.logout button").await;
    wait_text(&c, ".flash", "You have been signed out.").await;
    c.goto(&format!("{base}/quotes")).await.unwrap();
    c.wait().at_most(WAIT).for_element(Locator::Id("password")).await.unwrap();
    assert_eq!(path(&c).await, "/login");
    c.close().await.unwrap();

    let _ = stop.send(true);
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
    }
    let _ = std::fs::remove_dir_all(&profiles);
}
