//! The one parameter extractor: query string and form body (urlencoded or multipart) merged,
//! unknown parameters ignored, bad values answered with 1010101 naming the parameter. It also
//! runs the reference's authorization filter (spec/reference-server.md 1.3), so a handler on a
//! token path only runs for a valid caller.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::StreamExt;

use super::caller::{self, Caller, Credentials};
use super::AppState;
use crate::domain::view::Page;
use crate::domain::{peer, Error};

/// Every parameter of a request, in order (query first, then body), and who sent it.
#[derive(Debug, Clone)]
pub struct Params {
    pairs: Vec<(String, String)>,
    caller: Caller,
    peer_ip: String,
}

/// Decodes `application/x-www-form-urlencoded` text; invalid UTF-8 is refused, naming the
/// parameter, rather than silently replaced.
pub fn decode_form(raw: &[u8]) -> Result<Vec<(String, String)>, Error> {
    let mut out = Vec::new();
    for part in raw.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let (k, v) = match part.iter().position(|b| *b == b'=') {
            Some(i) => (&part[..i], &part[i + 1..]),
            None => (part, &b""[..]),
        };
        let key = decode_component(k).map_err(|_| Error::invalid("?", "参数名不是 UTF-8"))?;
        let value = decode_component(v)
            .map_err(|_| Error::invalid(&key, "不是有效的 UTF-8 (invalid UTF-8)"))?;
        out.push((key, value));
    }
    Ok(out)
}

fn decode_component(raw: &[u8]) -> Result<String, std::string::FromUtf8Error> {
    // Most values (tokens, ids) need no decoding: copied whole, not byte by byte.
    if !raw.iter().any(|b| matches!(b, b'+' | b'%')) {
        return String::from_utf8(raw.to_vec());
    }
    let plus: Vec<u8> = raw
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    let bytes: Vec<u8> = percent_encoding::percent_decode(&plus).collect();
    String::from_utf8(bytes)
}

async fn read_limited(payload: &mut Payload, limit: usize) -> Result<Vec<u8>, Error> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| Error::invalid("body", e.to_string()))?;
        if body.len() + chunk.len() > limit {
            return Err(Error::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

async fn read_multipart(
    req: &HttpRequest,
    payload: Payload,
    limit: usize,
) -> Result<Vec<(String, String)>, Error> {
    let mut form = actix_multipart::Multipart::new(req.headers(), payload);
    let mut out = Vec::new();
    let mut total = 0usize;
    while let Some(field) = form.next().await {
        let mut field = field.map_err(|e| Error::invalid("body", format!("multipart: {e}")))?;
        let name = field.name().unwrap_or_default().to_string();
        let is_file = field
            .content_disposition()
            .and_then(|cd| cd.get_filename())
            .is_some();
        let mut value = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| Error::invalid(&name, format!("multipart: {e}")))?;
            total += chunk.len();
            if total > limit {
                return Err(Error::TooLarge { limit });
            }
            if !is_file {
                value.extend_from_slice(&chunk);
            }
        }
        if !is_file {
            let text = String::from_utf8(value)
                .map_err(|_| Error::invalid(&name, "不是有效的 UTF-8 (invalid UTF-8)"))?;
            out.push((name, text));
        }
    }
    Ok(out)
}

impl FromRequest for Params {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Params, Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| Error::Internal("app state missing".into()))?
                .clone();
            let limit = state.ctx.config.limits.max_form_bytes;
            if req.query_string().len() > limit {
                return Err(Error::TooLarge { limit });
            }
            let mut pairs = decode_form(req.query_string().as_bytes())?;
            let content_type = req
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_ascii_lowercase();
            // A body trickled in byte by byte would hold the request (and its memory) for
            // ever: the whole form must arrive within `limits.body_timeout_secs`.
            let deadline =
                std::time::Duration::from_secs(state.ctx.config.limits.body_timeout_secs.max(1));
            let slow = || Error::invalid("body", "请求体传输超时 (the body arrived too slowly)");
            if content_type.starts_with("multipart/form-data") {
                let read = read_multipart(&req, payload, limit);
                pairs.extend(
                    tokio::time::timeout(deadline, read)
                        .await
                        .map_err(|_| slow())??,
                );
            } else if content_type.starts_with("application/x-www-form-urlencoded")
                || content_type.starts_with("text/plain")
            {
                let body = tokio::time::timeout(deadline, read_limited(&mut payload, limit))
                    .await
                    .map_err(|_| slow())??;
                pairs.extend(decode_form(&body)?);
            }
            let peer_ip = client_addr(&req, &state.ctx.config.trusted_proxies)
                .map_or(String::new(), |ip| ip.to_string());
            let mut params = Params {
                pairs,
                caller: Caller::Anonymous,
                peer_ip,
            };
            params.caller =
                caller::authorize(&state.ctx, req.path(), &params.credentials()).await?;
            Ok(params)
        })
    }
}

/// Whether a parameter's value must never be logged (passwords, tokens, keys, signatures,
/// codes), by its name.
fn secret_param(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "password", "pwd", "token", "secret", "key", "sign", "code", "salt", "mac",
        // The hardened dialect's encrypted forms (a registration's holds the md5 password).
        "data",
    ]
    .iter()
    .any(|s| n.contains(s))
}

/// `path?query` for the access log, with the value of every secret parameter replaced by
/// `***` (an unparsable query is left out whole).
pub fn redacted_target(path: &str, query: &str) -> String {
    if query.is_empty() {
        return path.to_string();
    }
    let Ok(pairs) = decode_form(query.as_bytes()) else {
        return format!("{path}?…");
    };
    let masked: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), if secret_param(k) { "***" } else { v.as_str() }))
        .collect();
    format!(
        "{path}?{}",
        serde_urlencoded::to_string(masked).unwrap_or_default()
    )
}

/// The client's address of an API-port request: the socket's peer, or what a trusted proxy
/// says it forwarded (`domain::peer`'s rule).
pub fn client_addr(req: &HttpRequest, trusted: &[std::net::IpAddr]) -> Option<std::net::IpAddr> {
    let peer = req.peer_addr()?;
    let values = |name| {
        req.headers()
            .get_all(name)
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
    };
    Some(peer::client_ip(
        trusted,
        peer.ip(),
        values(actix_web::http::header::FORWARDED),
        values(actix_web::http::header::X_FORWARDED_FOR),
    ))
}

fn parse<T: std::str::FromStr>(name: &str, v: &str, what: &str) -> Result<T, Error> {
    v.trim()
        .parse::<T>()
        .map_err(|_| Error::invalid(name, format!("应为{what} (expected {what}), 收到 {v:?}")))
}

impl Params {
    /// Parameters from a list (tests and internal callers).
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Params {
        Params {
            pairs,
            caller: Caller::Anonymous,
            peer_ip: String::new(),
        }
    }

    /// What the caller filter reads.
    pub fn credentials(&self) -> Credentials<'_> {
        Credentials {
            access_token: self.get("access_token"),
            secret: self.str("secret"),
            time: self.str("time"),
            salt: self.str("salt"),
            params: &self.pairs,
        }
    }

    /// The first value of `name` (Spring's `getParameter`), if sent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in the order sent (a repeated parameter).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The value of `name` when sent and not empty.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }

    /// Owned form of [`Params::str`].
    pub fn string(&self, name: &str) -> Option<String> {
        self.str(name).map(str::to_string)
    }

    /// A required, non-empty string.
    pub fn required(&self, name: &str) -> Result<&str, Error> {
        self.str(name).ok_or_else(|| Error::missing(name))
    }

    /// An optional integer (empty = absent); malformed → 1010101.
    pub fn i32(&self, name: &str) -> Result<Option<i32>, Error> {
        self.str(name)
            .map(|v| parse::<i32>(name, v, "整数"))
            .transpose()
    }

    /// An integer with a default.
    pub fn i32_or(&self, name: &str, default: i32) -> Result<i32, Error> {
        Ok(self.i32(name)?.unwrap_or(default))
    }

    /// A required integer.
    pub fn required_i32(&self, name: &str) -> Result<i32, Error> {
        self.i32(name)?.ok_or_else(|| Error::missing(name))
    }

    /// An optional long.
    pub fn i64(&self, name: &str) -> Result<Option<i64>, Error> {
        self.str(name)
            .map(|v| parse::<i64>(name, v, "整数"))
            .transpose()
    }

    /// An optional double (NaN and infinities refused).
    pub fn f64(&self, name: &str) -> Result<Option<f64>, Error> {
        match self.str(name) {
            None => Ok(None),
            Some(v) => {
                let f = parse::<f64>(name, v, "数字")?;
                if f.is_finite() {
                    Ok(Some(f))
                } else {
                    Err(Error::invalid(name, "应为有限数字"))
                }
            }
        }
    }

    /// A 0-based page from `pageIndex` and `pageSize` (the client API's paging): a size of 0
    /// means `default`, sizes are capped at `max` (clients ask for 50000 to mean "all"), and
    /// negative values are refused with 1010101.
    pub fn page(&self, default: u32, max: u32) -> Result<Page, Error> {
        let index = self.i32_or("pageIndex", 0)?;
        if index < 0 {
            return Err(Error::invalid(
                "pageIndex",
                "不能为负数 (must not be negative)",
            ));
        }
        let size = match self.i32("pageSize")? {
            Some(s) if s < 0 => {
                return Err(Error::invalid(
                    "pageSize",
                    "不能为负数 (must not be negative)",
                ))
            }
            Some(s) if s > 0 => (s as u32).min(max),
            _ => default,
        };
        Ok(Page {
            index: index as u32,
            size,
        })
    }

    /// The authenticated caller's userId; 1030101 on an open path without a token.
    pub fn me(&self) -> Result<i32, Error> {
        match self.caller {
            Caller::User(id) => Ok(id),
            _ => Err(Error::Code(crate::domain::Code::TokenMissing)),
        }
    }

    /// The admin-area caller (integration key or console user); 1030101 anywhere else.
    pub fn console(&self) -> Result<&Caller, Error> {
        match self.caller {
            Caller::Integration | Caller::Console(_) => Ok(&self.caller),
            _ => Err(Error::Code(crate::domain::Code::TokenMissing)),
        }
    }

    /// The caller as the filter resolved it.
    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    /// The client's address (for `/config`'s `ipAddress`).
    pub fn peer_ip(&self) -> &str {
        &self.peer_ip
    }

    /// The client's address, for the login limiter.
    pub fn source(&self) -> Option<std::net::IpAddr> {
        self.peer_ip.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_access_log_never_holds_secrets() {
        let t = redacted_target(
            "/user/login",
            "telephone=138&password=e10adc3949ba59abbe56e057f20f883e&access_token=abc&secret=s&flag=rw",
        );
        assert_eq!(
            t,
            "/user/login?telephone=138&password=***&access_token=***&secret=***&flag=rw"
        );
        assert!(!redacted_target("/x", "loginPwd=1&apiKey=k&smsCode=9").contains('1'));
        assert!(!redacted_target("/x", "randcode=1&imgCode=1&data=1&loginToken=1").contains('1'));
        assert_eq!(redacted_target("/getCurrentTime", ""), "/getCurrentTime");
    }

    #[test]
    fn decodes_forms_and_refuses_bad_utf8() {
        let p = decode_form(b"a=1&b=%E5%BC%A0+x&flag=rw&c&=").unwrap();
        assert_eq!(p[0], ("a".into(), "1".into()));
        assert_eq!(p[1], ("b".into(), "张 x".into()));
        assert_eq!(p[3], ("c".into(), "".into()));
        let e = decode_form(b"nickname=%FF%FE").unwrap_err();
        assert!(e.to_string().contains("nickname"), "{e}");
    }

    #[test]
    fn typed_accessors_name_the_parameter() {
        let p = Params::from_pairs(vec![
            ("userId".into(), "abc".into()),
            ("n".into(), "".into()),
            ("x".into(), "1.5".into()),
            ("y".into(), "NaN".into()),
        ]);
        let e = p.i32("userId").unwrap_err();
        assert_eq!(e.code(), 1010101);
        assert!(e.to_string().contains("userId"));
        assert_eq!(p.i32("n").unwrap(), None);
        assert_eq!(p.f64("x").unwrap(), Some(1.5));
        assert!(p.f64("y").is_err());
        assert!(p.required("n").unwrap_err().to_string().contains("n"));
    }
}
