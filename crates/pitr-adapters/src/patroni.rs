//! Patroni's REST API over plain HTTP/1.1 on a tokio `TcpStream`: one request per
//! connection (`Connection: close`), enough for a handful of small JSON answers, and no
//! HTTP library to carry. Basic authentication comes from the URL (`http://user:pw@host:8008`).
//! HTTPS endpoints are refused with a message saying so.

use crate::domain::patroni::{
    parse_cluster, parse_history, parse_node, ClusterState, HistoryEntry, Member, NodeStatus,
};
use crate::engine::ports::{PatroniApi, PortError};
use futures::future::BoxFuture;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Answers larger than this are not Patroni's.
const MAX_BODY: usize = 4 << 20;

#[derive(Debug, Clone)]
pub struct RestClient {
    pub timeout: Duration,
}

impl Default for RestClient {
    fn default() -> Self {
        RestClient {
            timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Endpoint {
    host: String,
    port: u16,
    base: String,
    auth: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: String,
}

fn parse_url(url: &str) -> Result<Endpoint, PortError> {
    if url.starts_with("https://") {
        return Err(PortError::new(crate::engine::ports::PortErrorKind::Refused, format!(
            "Patroni URL {url}: https is not supported by the console's client; expose the REST API over http on a trusted network, or reach it through an SSH tunnel"
        )));
    }
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        PortError::new(
            crate::engine::ports::PortErrorKind::Refused,
            format!("Patroni URL `{url}` must start with http:// (e.g. http://10.0.0.1:8008)"),
        )
    })?;
    let (authority, base) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    let (auth, hostport) = match authority.rsplit_once('@') {
        Some((cred, hp)) => (Some(base64(cred.as_bytes())), hp),
        None => (None, authority),
    };
    let (host, port_text) = match hostport.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((h, p)) => (h, p.strip_prefix(':')),
            None => (v6, None),
        },
        None => match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        },
    };
    let port = match port_text {
        Some(p) => p.parse::<u16>().map_err(|_| {
            PortError::new(
                crate::engine::ports::PortErrorKind::Refused,
                format!("Patroni URL `{url}`: `{p}` is not a port number"),
            )
        })?,
        None => 8008,
    };
    if host.is_empty() {
        return Err(PortError::new(
            crate::engine::ports::PortErrorKind::Refused,
            format!("Patroni URL `{url}` names no host"),
        ));
    }
    Ok(Endpoint {
        host: host.to_string(),
        port,
        base: base.to_string(),
        auth,
    })
}

fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Splits a raw HTTP/1.x response into status and body (Content-Length, chunked, or to EOF).
fn parse_response(raw: &[u8]) -> Result<Response, String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("the answer has no end of headers")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| format!("not an HTTP status line: `{status_line}`"))?;
    let mut chunked = false;
    let mut length = None;
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            if k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked") {
                chunked = true;
            } else if k == "content-length" {
                length = v.parse::<usize>().ok();
            }
        }
    }
    let mut body = &raw[end + 4..];
    let decoded;
    if chunked {
        decoded = dechunk(body)?;
        body = &decoded;
    } else if let Some(n) = length {
        body = &body[..n.min(body.len())];
    }
    Ok(Response {
        status,
        body: String::from_utf8_lossy(body).into_owned(),
    })
}

fn dechunk(mut b: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = b
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("a chunk without its size line")?;
        let size_text = String::from_utf8_lossy(&b[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| format!("bad chunk size `{size_text}`"))?;
        b = &b[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if b.len() < size {
            return Err("a chunk cut short".into());
        }
        out.extend_from_slice(&b[..size]);
        b = b.get(size + 2..).unwrap_or_default();
    }
}

impl RestClient {
    /// One request; the answer whatever its status (callers decide what a status means).
    pub async fn request(
        &self,
        method: &str,
        url: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<Response, PortError> {
        let ep = parse_url(url)?;
        let shown = format!("{method} {}:{}{}{path}", ep.host, ep.port, ep.base);
        let exchange = async {
            let mut stream = TcpStream::connect((ep.host.as_str(), ep.port))
                .await
                .map_err(|e| format!("cannot connect: {e}"))?;
            let mut req = format!(
                "{method} {}{path} HTTP/1.1\r\nHost: {}:{}\r\nAccept: application/json\r\nConnection: close\r\nUser-Agent: pitr-console\r\n",
                ep.base, ep.host, ep.port
            );
            if let Some(a) = &ep.auth {
                req.push_str(&format!("Authorization: Basic {a}\r\n"));
            }
            let payload = body.unwrap_or("");
            if body.is_some() {
                req.push_str("Content-Type: application/json\r\n");
            }
            req.push_str(&format!(
                "Content-Length: {}\r\n\r\n{payload}",
                payload.len()
            ));
            stream
                .write_all(req.as_bytes())
                .await
                .map_err(|e| format!("cannot send: {e}"))?;
            let mut raw = Vec::new();
            let mut buf = [0u8; 8192];
            loop {
                let n = stream
                    .read(&mut buf)
                    .await
                    .map_err(|e| format!("cannot read the answer: {e}"))?;
                if n == 0 {
                    break;
                }
                raw.extend_from_slice(&buf[..n]);
                if raw.len() > MAX_BODY {
                    return Err(format!("answer larger than {MAX_BODY} bytes"));
                }
            }
            parse_response(&raw)
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(PortError::new(
                crate::engine::ports::PortErrorKind::Unreachable,
                format!("Patroni {shown}: {e}"),
            )),
            Err(_) => Err(PortError::new(
                crate::engine::ports::PortErrorKind::Timeout,
                format!("Patroni {shown}: no answer within {:?}", self.timeout),
            )),
        }
    }

    async fn ok(
        &self,
        method: &str,
        url: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<String, PortError> {
        let r = self.request(method, url, path, body).await?;
        if (200..300).contains(&r.status) {
            Ok(r.body)
        } else {
            Err(PortError::new(
                crate::engine::ports::PortErrorKind::Remote,
                format!(
                    "Patroni {method} {url}{path} answered {}: {}",
                    r.status,
                    r.body.trim()
                ),
            ))
        }
    }

    pub async fn cluster(&self, url: &str) -> Result<ClusterState, PortError> {
        let body = self.ok("GET", url, "/cluster", None).await?;
        parse_cluster(&body).map_err(|e| {
            PortError::new(
                crate::engine::ports::PortErrorKind::Remote,
                format!("{url}: {e}"),
            )
        })
    }

    /// The node's own status; a stopped node answers 503 with a body worth reading.
    pub async fn node(&self, url: &str) -> Result<NodeStatus, PortError> {
        let r = self.request("GET", url, "/patroni", None).await?;
        parse_node(&r.body).map_err(|e| {
            PortError::new(
                crate::engine::ports::PortErrorKind::Remote,
                format!("{url} (HTTP {}): {e}", r.status),
            )
        })
    }

    pub async fn history(&self, url: &str) -> Result<Vec<HistoryEntry>, PortError> {
        let body = self.ok("GET", url, "/history", None).await?;
        parse_history(&body).map_err(|e| {
            PortError::new(
                crate::engine::ports::PortErrorKind::Remote,
                format!("{url}: {e}"),
            )
        })
    }

    /// Maintenance mode on or off for the whole cluster (`PATCH /config`).
    pub async fn set_pause(&self, url: &str, pause: bool) -> Result<(), PortError> {
        let body = format!("{{\"pause\": {pause}}}");
        self.ok("PATCH", url, "/config", Some(&body))
            .await
            .map(drop)
    }

    /// Asks the member at `url` to rebuild itself from the leader (`POST /reinitialize`,
    /// forced: a running rebuild or recovery is cancelled first).
    pub async fn reinitialize(&self, url: &str) -> Result<String, PortError> {
        self.ok("POST", url, "/reinitialize", Some(r#"{"force": true}"#))
            .await
    }

    pub async fn config(&self, url: &str) -> Result<serde_json::Value, PortError> {
        let body = self.ok("GET", url, "/config", None).await?;
        serde_json::from_str(&body)
            .map_err(|e| PortError::other(format!("{url}/config is not JSON: {e}")))
    }

    pub async fn patch_config(
        &self,
        url: &str,
        patch: &serde_json::Value,
    ) -> Result<(), PortError> {
        self.ok("PATCH", url, "/config", Some(&patch.to_string()))
            .await
            .map(drop)
    }

    /// A failover to `candidate` (`POST /failover`): the leader demotes itself and the
    /// candidate takes the leader key; in maintenance mode the only handover Patroni makes.
    pub async fn failover(&self, url: &str, candidate: &str) -> Result<String, PortError> {
        let body = serde_json::json!({ "candidate": candidate }).to_string();
        self.ok("POST", url, "/failover", Some(&body)).await
    }

    pub async fn restart(&self, url: &str) -> Result<String, PortError> {
        self.ok("POST", url, "/restart", Some("{}")).await
    }
}

/// For the servers pane: the members of the cluster whose REST API is at `url`, with
/// role, state, timeline and lag, and whether the cluster is paused.
pub async fn cluster_members(url: &str) -> Result<(Vec<Member>, bool), PortError> {
    let c = RestClient::default().cluster(url).await?;
    Ok((c.members, c.paused))
}

impl PatroniApi for RestClient {
    fn cluster<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Result<ClusterState, PortError>> {
        Box::pin(RestClient::cluster(self, url))
    }
    fn node<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Result<NodeStatus, PortError>> {
        Box::pin(RestClient::node(self, url))
    }
    fn set_pause<'a>(&'a self, url: &'a str, pause: bool) -> BoxFuture<'a, Result<(), PortError>> {
        Box::pin(RestClient::set_pause(self, url, pause))
    }
    fn reinitialize<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Result<String, PortError>> {
        Box::pin(RestClient::reinitialize(self, url))
    }
    fn config<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Result<serde_json::Value, PortError>> {
        Box::pin(RestClient::config(self, url))
    }
    fn patch_config<'a>(
        &'a self,
        url: &'a str,
        patch: &'a serde_json::Value,
    ) -> BoxFuture<'a, Result<(), PortError>> {
        Box::pin(RestClient::patch_config(self, url, patch))
    }
    fn failover<'a>(
        &'a self,
        url: &'a str,
        candidate: &'a str,
    ) -> BoxFuture<'a, Result<String, PortError>> {
        Box::pin(RestClient::failover(self, url, candidate))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    #[test]
    fn urls() {
        let e = parse_url("http://admin:s3cret@10.0.0.1:8009/api/").unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.base.as_str()),
            ("10.0.0.1", 8009, "/api")
        );
        assert_eq!(e.auth.as_deref(), Some("YWRtaW46czNjcmV0"));
        let e = parse_url("http://db1").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("db1", 8008));
        assert!(parse_url("https://db1:8008")
            .unwrap_err()
            .message
            .contains("https is not supported"));
        assert!(parse_url("db1:8008").is_err());
        assert!(parse_url("http://db1:x").is_err());
    }

    #[test]
    fn base64_pads() {
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
    }

    #[test]
    fn responses() {
        let r =
            parse_response(b"HTTP/1.0 503 Service Unavailable\r\nContent-Length: 2\r\n\r\n{}xx")
                .unwrap();
        assert_eq!((r.status, r.body.as_str()), (503, "{}"));
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(r.body, "{\"a\":1}");
        let r = parse_response(b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\nto the end").unwrap();
        assert_eq!(r.body, "to the end");
        assert!(parse_response(b"garbage").is_err());
    }

    #[tokio::test]
    async fn talks_to_a_server() {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let n = s.read(&mut buf).await.unwrap();
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            let body = r#"{"members": [{"name": "a", "role": "leader", "state": "running"}], "pause": true}"#;
            let resp = format!("HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{body}");
            s.write_all(resp.as_bytes()).await.unwrap();
            req
        });
        let c = RestClient::default()
            .cluster(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap();
        assert!(c.paused);
        assert_eq!(c.members[0].name, "a");
        let req = server.await.unwrap();
        assert!(req.starts_with("GET /cluster HTTP/1.1\r\n"), "{req}");
    }

    #[tokio::test]
    async fn a_closed_port_says_where() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let e = RestClient::default()
            .cluster(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap_err();
        assert!(
            e.message.contains(&format!("127.0.0.1:{port}")),
            "{}",
            e.message
        );
        assert!(e.message.contains("cannot connect"), "{}", e.message);
    }
}
