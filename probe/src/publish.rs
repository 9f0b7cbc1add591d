//! Publishing: the handshake with the collector, then a report every interval.
//!
//! As a Scope probe does, the probe first polls `GET /api` until the collector answers 200 with
//! an `id` (backing off 1 s, 2 s, 4 s ... up to [`HANDSHAKE_MAX_BACKOFF`]), then posts gzip
//! msgpack to `/api/report` with the headers a Scope probe sends. Every report is a full report:
//! the real probe sends two deltas after each full one to save bandwidth, but a full report is
//! always a valid report, a few KB gzip on a typical host, and needs no state on either side.
//!
//! A failed post is logged and the next interval sends a fresh report; nothing is queued, since
//! a newer report supersedes an older one.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use stormscope_shared::Format;
use stormscope_shared::codec::{self, Compression};
use tokio::time::MissedTickBehavior;

use crate::sampler::{PROBE_VERSION, Sampler};

/// The publish interval of a Scope probe (`--probe.publish.interval`).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(3);
pub const DEFAULT_COLLECTOR: &str = "http://127.0.0.1:4041";
/// Longest wait between two handshake attempts.
pub const HANDSHAKE_MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Deadline of one request; Scope's probe uses 12 s, "a bit less than the app's window".
const REQUEST_TIMEOUT: Duration = Duration::from_secs(12);

/// How a probe finds and talks to its collector.
#[derive(Clone)]
pub struct ProbeConfig {
    /// Base URL of the collector (or of a Scope app): `/api` and `/api/report` are appended.
    pub collector: String,
    /// Time between two reports; also each report's `Window`.
    pub interval: Duration,
    /// Sent as `Authorization: Scope-Probe token=<token>`. Never logged.
    pub token: Option<String>,
    /// A header (name, value) naming the tenant, for collectors behind `--tenancy header`.
    pub tenant_header: Option<(String, String)>,
    /// `X-Scope-Probe-ID` and the host node's `control_probe_id`; random per start by default.
    pub probe_id: String,
}

impl ProbeConfig {
    /// Defaults for everything but the collector.
    pub fn new(collector: impl Into<String>) -> Self {
        ProbeConfig {
            collector: collector.into(),
            interval: DEFAULT_INTERVAL,
            token: None,
            tenant_header: None,
            probe_id: random_probe_id(),
        }
    }
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig::new(DEFAULT_COLLECTOR)
    }
}

impl fmt::Debug for ProbeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProbeConfig")
            .field("collector", &self.collector)
            .field("interval", &self.interval)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("tenant_header", &self.tenant_header)
            .field("probe_id", &self.probe_id)
            .finish()
    }
}

/// 16 random hex digits. (Scope prints a random 63-bit number in hex, so its ids are sometimes
/// shorter; any string works.)
pub fn random_probe_id() -> String {
    format!("{:016x}", fastrand::u64(..))
}

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("collector URL {url:?}: {reason}")]
    CollectorUrl { url: String, reason: String },
    #[error("the publish interval must be longer than zero")]
    Interval,
    #[error("header {0} cannot be sent: it is not a valid HTTP header")]
    Header(String),
    #[error("building the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    #[error("request failed: {0}")]
    Request(#[source] reqwest::Error),
    #[error("the collector answered {status}: {body}")]
    Status { status: u16, body: String },
    #[error("the collector's /api answer has no id")]
    NoId,
}

/// A probe: samples this machine and publishes to one collector.
#[derive(Debug)]
pub struct Probe {
    pub config: ProbeConfig,
}

impl Probe {
    /// Runs until `shutdown` resolves. Fails only on a configuration it cannot use; a collector
    /// that is down, refuses the token or answers errors is retried for as long as it runs.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), ProbeError> {
        let publisher = Publisher::new(self.config)?;
        tokio::select! {
            biased;
            () = shutdown => {}
            () = publisher.run() => {}
        }
        tracing::debug!("probe stopped");
        Ok(())
    }
}

/// [`Probe::run`] for callers that hold a config: the `standalone` command, tests.
pub async fn run(
    config: ProbeConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ProbeError> {
    Probe { config }.run(shutdown).await
}

struct Publisher {
    client: reqwest::Client,
    api_url: reqwest::Url,
    report_url: reqwest::Url,
    probe_id: String,
    interval: Duration,
}

impl Publisher {
    fn new(config: ProbeConfig) -> Result<Self, ProbeError> {
        if config.interval.is_zero() {
            return Err(ProbeError::Interval);
        }
        let base = config.collector.trim_end_matches('/');
        let url = |path: &str| {
            reqwest::Url::parse(&format!("{base}{path}")).map_err(|e| ProbeError::CollectorUrl {
                url: config.collector.clone(),
                reason: e.to_string(),
            })
        };
        let (api_url, report_url) = (url("/api")?, url("/api/report")?);
        if !matches!(api_url.scheme(), "http" | "https") {
            return Err(ProbeError::CollectorUrl {
                url: config.collector.clone(),
                reason: "only http and https are supported".into(),
            });
        }
        let client = reqwest::Client::builder()
            .user_agent(format!("Scope_Probe/{PROBE_VERSION}"))
            .default_headers(probe_headers(&config)?)
            // As Go writes them (`X-Scope-Probe-Id`), for receivers that compare names exactly.
            .http1_title_case_headers()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(ProbeError::Client)?;
        Ok(Publisher {
            client,
            api_url,
            report_url,
            probe_id: config.probe_id,
            interval: config.interval,
        })
    }

    async fn run(self) {
        let app_id = self.handshake().await;
        tracing::info!(collector = %self.report_url, %app_id, probe_id = %self.probe_id, "publishing reports");
        let mut ticker = tokio::time::interval(self.interval);
        // A slow post must not be followed by a burst of catch-up reports.
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut sampler = None;
        let mut failing = false;
        loop {
            ticker.tick().await;
            let current = sampler
                .take()
                .unwrap_or_else(|| Sampler::new(self.probe_id.clone(), self.interval));
            // Walking /proc and compressing are blocking work.
            let sampled = tokio::task::spawn_blocking(move || {
                let mut current = current;
                let report = current.sample();
                let body = codec::encode(&report, Format::Msgpack, Compression::Gzip);
                (current, body)
            })
            .await;
            let body = match sampled {
                Ok((kept, body)) => {
                    sampler = Some(kept);
                    body
                }
                Err(e) => {
                    // The sampler went down with the task; the next interval starts a new one.
                    tracing::warn!(error = %e, "sampling /proc failed; skipping this report");
                    continue;
                }
            };
            match self.post(body).await {
                Ok(()) if failing => {
                    tracing::info!("the collector accepts reports again");
                    failing = false;
                }
                Ok(()) => tracing::debug!("report published"),
                Err(e) => {
                    tracing::warn!(error = %e, "publishing a report failed; the next one follows in {:?}", self.interval);
                    failing = true;
                }
            }
        }
    }

    /// Polls `GET /api` until the collector gives its id.
    async fn handshake(&self) -> String {
        let mut delay = Duration::from_secs(1);
        loop {
            match self.details().await {
                Ok(id) => return id,
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?delay, "the collector is not answering /api yet");
                }
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(HANDSHAKE_MAX_BACKOFF);
        }
    }

    async fn details(&self) -> Result<String, ProbeError> {
        let response = self
            .client
            .get(self.api_url.clone())
            .send()
            .await
            .map_err(ProbeError::Request)?;
        let body = ok_body(response).await?;
        let details: serde_json::Value =
            serde_json::from_slice(&body).map_err(|_| ProbeError::NoId)?;
        match details.get("id").and_then(|id| id.as_str()) {
            Some(id) if !id.is_empty() => Ok(id.to_owned()),
            _ => Err(ProbeError::NoId),
        }
    }

    async fn post(&self, body: Vec<u8>) -> Result<(), ProbeError> {
        let response = self
            .client
            .post(self.report_url.clone())
            .header(header::CONTENT_ENCODING, "gzip")
            .header(header::CONTENT_TYPE, Format::Msgpack.content_type())
            .body(body)
            .send()
            .await
            .map_err(ProbeError::Request)?;
        ok_body(response).await.map(drop)
    }
}

/// The body of a 200 answer; anything else is an error carrying the start of the body, which
/// is where collectors and Scope apps say what was wrong.
async fn ok_body(response: reqwest::Response) -> Result<Vec<u8>, ProbeError> {
    let status = response.status();
    let body = response.bytes().await.map_err(ProbeError::Request)?;
    if status != reqwest::StatusCode::OK {
        let text = String::from_utf8_lossy(&body);
        return Err(ProbeError::Status {
            status: status.as_u16(),
            body: text.trim().chars().take(200).collect(),
        });
    }
    Ok(body.to_vec())
}

/// The headers every request carries (`authorizeHeaders` and the probe id and version).
fn probe_headers(config: &ProbeConfig) -> Result<HeaderMap, ProbeError> {
    let mut headers = HeaderMap::new();
    let value = |name: &str, v: &str| {
        HeaderValue::from_str(v).map_err(|_| ProbeError::Header(name.to_owned()))
    };
    if let Some(token) = &config.token {
        let mut auth = value("Authorization", &format!("Scope-Probe token={token}"))?;
        auth.set_sensitive(true);
        headers.insert(header::AUTHORIZATION, auth);
    }
    headers.insert(
        HeaderName::from_static("x-scope-probe-id"),
        value("X-Scope-Probe-ID", &config.probe_id)?,
    );
    headers.insert(
        HeaderName::from_static("x-scope-probe-version"),
        value("X-Scope-Probe-Version", PROBE_VERSION)?,
    );
    if let Some((name, tenant)) = &config.tenant_header {
        let header_name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| ProbeError::Header(name.clone()))?;
        headers.insert(header_name, value(name, tenant)?);
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_token() {
        let mut config = ProbeConfig::new("http://collector:4041");
        config.token = Some("s3cret-token".into());
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn probe_ids_are_16_hex_digits() {
        let id = random_probe_id();
        assert_eq!(id.len(), 16);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(id, random_probe_id());
    }

    #[test]
    fn unusable_configs_are_refused_up_front() {
        let mut config = ProbeConfig::new("not a url");
        assert!(matches!(
            Publisher::new(config.clone()),
            Err(ProbeError::CollectorUrl { .. })
        ));
        config.collector = "http://127.0.0.1:4041/".into();
        config.interval = Duration::ZERO;
        assert!(matches!(
            Publisher::new(config.clone()),
            Err(ProbeError::Interval)
        ));
        config.interval = DEFAULT_INTERVAL;
        config.tenant_header = Some(("X-Scope-OrgID".into(), "bad\nvalue".into()));
        assert!(matches!(
            Publisher::new(config.clone()),
            Err(ProbeError::Header(_))
        ));
        config.tenant_header = None;
        let publisher = Publisher::new(config).unwrap();
        assert_eq!(
            publisher.report_url.as_str(),
            "http://127.0.0.1:4041/api/report"
        );
    }
}
