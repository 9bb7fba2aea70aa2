//! One HTTP request to a container on a network (a lifecycle hook): from
//! this process when the engine is this machine's, through the probe agent
//! on the network otherwise ([`super::agent`]). One attempt; the answer is
//! the status code, or why there is none.

use std::collections::BTreeMap;
use std::time::Duration;

use super::agent::Reach;
use super::error::one_line;
use super::Docker;

/// What to send, and where.
pub struct HttpRequest<'a> {
    pub network: &'a str,
    pub ip: &'a str,
    pub port: u16,
    pub method: &'a str,
    pub path: &'a str,
    /// Header name → value (e.g. `Authorization`, `Content-Type`).
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    pub timeout: Duration,
}

/// The answer: the HTTP status code, or the reason there is none
/// (`no answer within 10s`, `cannot connect: Connection refused …`).
pub type HttpAnswer = Result<u16, String>;

impl Docker {
    /// Sends `req` once.
    pub async fn http(&self, req: HttpRequest<'_>) -> HttpAnswer {
        match self.reach() {
            Reach::Direct => direct(&req).await,
            Reach::Engine => self.through_agent(&req).await,
        }
    }

    async fn through_agent(&self, req: &HttpRequest<'_>) -> HttpAnswer {
        let ms = req.timeout.as_millis().to_string();
        let port = req.port.to_string();
        let args = ["request", req.method, req.ip, &port, req.path, &ms].map(String::from);
        let headers: Vec<String> = req
            .headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        let env = BTreeMap::from([
            ("PROBE_HEADERS".to_string(), headers.join("\n")),
            (
                "PROBE_BODY".to_string(),
                String::from_utf8_lossy(&req.body).into_owned(),
            ),
        ]);
        let limit = req.timeout + Duration::from_secs(60);
        let answer = self
            .run_agent(req.network, &args, env, limit)
            .await
            .map_err(|e| format!("the probe agent failed: {e}"))?;
        let out = answer.output.trim();
        match answer.code {
            0 => out
                .lines()
                .next()
                .and_then(|l| l.trim().parse::<u16>().ok())
                .ok_or_else(|| format!("the probe agent answered `{}`", one_line(out))),
            _ => Err(match out.strip_prefix("error: ") {
                Some(reason) if reason.contains("timed out") || reason.contains("would block") => {
                    format!("no answer within {}s", req.timeout.as_secs())
                }
                Some(reason) => format!("cannot connect: {}", one_line(reason)),
                None => one_line(out),
            }),
        }
    }
}

async fn direct(req: &HttpRequest<'_>) -> HttpAnswer {
    let method =
        reqwest::Method::from_bytes(req.method.as_bytes()).unwrap_or(reqwest::Method::POST);
    let client = reqwest::Client::builder()
        .timeout(req.timeout)
        .build()
        .map_err(|e| format!("cannot prepare the request: {}", root_cause(&e)))?;
    let url = format!("http://{}:{}{}", req.ip, req.port, req.path);
    let mut request = client.request(method, &url).body(req.body.clone());
    for (k, v) in &req.headers {
        request = request.header(k, v);
    }
    match request.send().await {
        Ok(r) => Ok(r.status().as_u16()),
        Err(e) if e.is_timeout() => Err(format!("no answer within {}s", req.timeout.as_secs())),
        Err(e) => Err(format!("cannot connect: {}", root_cause(&e))),
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    one_line(&cur.to_string())
}
