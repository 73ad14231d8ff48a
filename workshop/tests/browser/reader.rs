//! A reader for the browser test: the built book served on loopback, and Debian's
//! Chromium driven over the DevTools protocol, which opens a page in a theme and says
//! what a reader would have met there.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chromiumoxide::browser::{Browser, BrowserConfig};
use chromiumoxide::cdp::browser_protocol::log::{EnableParams as LogEnable, EventEntryAdded};
use chromiumoxide::cdp::browser_protocol::network::{
    EnableParams as NetworkEnable, EventRequestWillBeSent,
};
use chromiumoxide::cdp::js_protocol::runtime::{EventConsoleApiCalled, EventExceptionThrown};
use chromiumoxide::handler::viewport::Viewport;
use chromiumoxide::page::{Page, ScreenshotParams};
use futures::StreamExt;
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The window the issue asks for: the book at 1280 px, as on a laptop.
pub const WIDTH: u32 = 1280;
const HEIGHT: u32 = 900;
/// The command that runs the browser test, for every message that needs it.
pub const COMMAND: &str = "cargo test --test browser -- --ignored";

/// The built book, served over HTTP on 127.0.0.1 as `mdbook serve` would.
pub struct BookServer {
    pub origin: String,
    task: tokio::task::JoinHandle<()>,
}

impl BookServer {
    pub async fn start(root: PathBuf) -> BookServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let origin = format!("http://{}", listener.local_addr().expect("its address"));
        let root = Arc::new(root);
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let root = root.clone();
                tokio::spawn(async move {
                    let mut request = vec![0u8; 8192];
                    let Ok(read) = stream.read(&mut request).await else {
                        return;
                    };
                    let request = String::from_utf8_lossy(&request[..read]);
                    let path = request.split_whitespace().nth(1).unwrap_or("/");
                    let path = path.split(['?', '#']).next().unwrap_or("/");
                    let response = match file_for(&root, path) {
                        Some((body, kind)) => [
                            format!(
                                "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\
                                 Connection: close\r\n\r\n",
                                body.len()
                            )
                            .into_bytes(),
                            body,
                        ]
                        .concat(),
                        None => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            .to_vec(),
                    };
                    let _ = stream.write_all(&response).await;
                });
            }
        });
        BookServer { origin, task }
    }
}

impl Drop for BookServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The file a path names inside the book, never outside it, with its content type.
fn file_for(root: &Path, path: &str) -> Option<(Vec<u8>, &'static str)> {
    let relative = path.trim_start_matches('/');
    if relative.split('/').any(|part| part == "..") {
        return None;
    }
    let mut file = root.join(relative);
    if file.is_dir() {
        file = file.join("index.html");
    }
    let kind = match file.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript",
        "css" => "text/css",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "ttf" => "font/ttf",
        "json" => "application/json",
        _ => "application/octet-stream",
    };
    Some((std::fs::read(file).ok()?, kind))
}

/// One broken rule on one page, as inspect.js reports it.
#[derive(Debug, Deserialize)]
pub struct Finding {
    pub rule: String,
    pub element: String,
    pub detail: String,
}

/// What one page in one theme showed the reader.
pub struct Reading {
    pub findings: Vec<Finding>,
    /// Uncaught exceptions, console errors and the browser's own error log.
    pub errors: Vec<String>,
    /// Every request that went anywhere but the book's own server.
    pub outside: Vec<String>,
}

/// Chromium, one tab, and what that tab reports while pages load.
pub struct Reader {
    browser: Browser,
    handler: tokio::task::JoinHandle<()>,
    page: Page,
    profile: PathBuf,
    errors: Arc<Mutex<Vec<String>>>,
    requests: Arc<Mutex<Vec<String>>>,
}

/// Keeps what `describe` makes of each event of kind `E` the page sends, in `sink`.
async fn collect<E>(
    page: &Page,
    sink: &Arc<Mutex<Vec<String>>>,
    describe: impl Fn(&E) -> Option<String> + Send + 'static,
) -> Result<(), String>
where
    E: chromiumoxide::cdp::IntoEventKind + Unpin + Send + Sync + 'static,
{
    let mut events = page
        .event_listener::<E>()
        .await
        .map_err(|e| e.to_string())?;
    let sink = sink.clone();
    tokio::spawn(async move {
        while let Some(event) = events.next().await {
            if let Some(line) = describe(&event) {
                sink.lock().unwrap().push(line);
            }
        }
    });
    Ok(())
}

/// Debian's `chromium`, or whatever `CHROMIUM` names.
pub fn chromium() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return Ok(PathBuf::from(path));
    }
    if let Some(found) = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find_map(workshop::docker::which)
    {
        return Ok(found);
    }
    Err(format!(
        "Chromium is not installed, and the browser test reads the book in it. Install it \
         (Debian/Ubuntu: `sudo apt-get install chromium`) or point CHROMIUM at a Chrome or \
         Chromium binary, then run `{COMMAND}`."
    ))
}

impl Reader {
    pub async fn launch() -> Result<Reader, String> {
        let executable = chromium()?;
        let profile =
            std::env::temp_dir().join(format!("ping-book-chromium-{}", std::process::id()));
        let config = BrowserConfig::builder()
            .chrome_executable(&executable)
            .user_data_dir(&profile)
            .no_sandbox()
            .window_size(WIDTH, HEIGHT)
            .viewport(Viewport {
                width: WIDTH,
                height: HEIGHT,
                device_scale_factor: Some(1.0),
                ..Viewport::default()
            })
            // Nothing may leave the machine: any host but loopback fails to resolve. The
            // requests are still seen (and reported) before they fail.
            .arg("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1")
            .build()?;
        let (browser, mut events) = Browser::launch(config)
            .await
            .map_err(|error| format!("{} did not start: {error}", executable.display()))?;
        let handler = tokio::spawn(async move { while events.next().await.is_some() {} });
        let page = browser
            .new_page("about:blank")
            .await
            .map_err(|e| e.to_string())?;
        page.execute(LogEnable::default())
            .await
            .map_err(|e| e.to_string())?;
        page.execute(NetworkEnable::default())
            .await
            .map_err(|e| e.to_string())?;

        let errors = Arc::new(Mutex::new(Vec::new()));
        let requests = Arc::new(Mutex::new(Vec::new()));
        collect::<EventExceptionThrown>(&page, &errors, |event| {
            let details = &event.exception_details;
            let message = details
                .exception
                .as_ref()
                .and_then(|e| e.description.clone())
                .unwrap_or_else(|| details.text.clone());
            Some(format!("uncaught: {message}"))
        })
        .await?;
        collect::<EventConsoleApiCalled>(&page, &errors, |event| {
            let is_error = format!("{:?}", event.r#type)
                .to_lowercase()
                .contains("error");
            let args: Vec<String> = event
                .args
                .iter()
                .map(|arg| {
                    arg.value
                        .as_ref()
                        .map(|v| v.to_string())
                        .or_else(|| arg.description.clone())
                        .unwrap_or_default()
                })
                .collect();
            is_error.then(|| format!("console.error: {}", args.join(" ")))
        })
        .await?;
        collect::<EventEntryAdded>(&page, &errors, |event| {
            let entry = &event.entry;
            let is_error = format!("{:?}", entry.level)
                .to_lowercase()
                .contains("error");
            let url = entry.url.clone().unwrap_or_default();
            is_error.then(|| format!("browser log: {} {url}", entry.text))
        })
        .await?;
        collect::<EventRequestWillBeSent>(&page, &requests, |event| {
            Some(event.request.url.clone())
        })
        .await?;
        Ok(Reader {
            browser,
            handler,
            page,
            profile,
            errors,
            requests,
        })
    }

    /// Makes `theme` the reader's choice, as mdBook's theme menu does.
    pub async fn choose_theme(&self, origin: &str, theme: &str) -> Result<(), String> {
        self.page
            .goto(format!("{origin}/index.html"))
            .await
            .map_err(|e| e.to_string())?;
        self.page
            .evaluate(format!("localStorage.setItem('mdbook-theme', '{theme}')"))
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    /// Opens `url` and reports what the reader met: broken rules, errors, requests
    /// that left the machine (anything not under `origin`).
    pub async fn read(&self, origin: &str, url: &str, theme: &str) -> Result<Reading, String> {
        self.errors.lock().unwrap().clear();
        self.requests.lock().unwrap().clear();
        self.page.goto(url).await.map_err(|e| e.to_string())?;
        // Scripts that run after load (search index, highlighting, a playground fetch).
        tokio::time::sleep(Duration::from_millis(300)).await;
        let applied: bool = self
            .page
            .evaluate(format!(
                "document.documentElement.classList.contains('{theme}')"
            ))
            .await
            .map_err(|e| e.to_string())?
            .into_value()
            .map_err(|e| e.to_string())?;
        let mut findings: Vec<Finding> = self
            .page
            .evaluate(include_str!("inspect.js"))
            .await
            .map_err(|e| e.to_string())?
            .into_value()
            .map_err(|e| format!("inspect.js returned something else: {e}"))?;
        if !applied {
            findings.push(Finding {
                rule: "the chosen theme applies".into(),
                element: "html".into(),
                detail: format!("the page is not in the {theme} theme"),
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let outside = self
            .requests
            .lock()
            .unwrap()
            .iter()
            .filter(|request| {
                !request.starts_with(&format!("{origin}/"))
                    && !request.starts_with("data:")
                    && !request.starts_with("blob:")
                    && !request.starts_with("about:")
            })
            .cloned()
            .collect();
        Ok(Reading {
            findings,
            errors: self.errors.lock().unwrap().clone(),
            outside,
        })
    }

    /// Searches the book as a reader does: the search button, then typing.
    /// Returns the links of the results.
    pub async fn search(&self, url: &str, words: &str) -> Result<Vec<String>, String> {
        self.page.goto(url).await.map_err(|e| e.to_string())?;
        let toggle = self
            .page
            .find_element("#mdbook-search-toggle")
            .await
            .map_err(|e| format!("no search button: {e}"))?;
        toggle.click().await.map_err(|e| e.to_string())?;
        let bar = self
            .page
            .find_element("#mdbook-searchbar")
            .await
            .map_err(|e| format!("no search bar: {e}"))?;
        bar.click().await.map_err(|e| e.to_string())?;
        bar.type_str(words).await.map_err(|e| e.to_string())?;
        for _ in 0..50 {
            let links: Vec<String> = self
                .page
                .evaluate(
                    "Array.from(document.querySelectorAll('#mdbook-searchresults a'))\
                     .map(a => a.getAttribute('href'))",
                )
                .await
                .map_err(|e| e.to_string())?
                .into_value()
                .map_err(|e| e.to_string())?;
            if !links.is_empty() {
                return Ok(links);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(Vec::new())
    }

    /// The whole page as a PNG, for a person to look at.
    pub async fn screenshot(&self, path: &Path) -> Result<(), String> {
        self.page
            .save_screenshot(ScreenshotParams::builder().full_page(true).build(), path)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    pub async fn close(mut self) {
        let _ = self.browser.close().await;
        let _ = self.browser.wait().await;
        self.handler.abort();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
