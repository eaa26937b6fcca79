//! Text messages to phones (README "SMS"): the sender `sms.sender` names. `log` writes the code
//! to the server log (development); `http` calls a webhook of any SMS gateway, with the URL,
//! method, headers and body from configuration. Only `log` ever writes a code anywhere.

use std::time::Duration;

use crate::config::{SmsConfig, SmsSenderKind};

/// What a message is made of; the placeholders of `sms.template`, `sms.http.url` and
/// `sms.http.body` (`{phone}`, `{areaCode}`, `{telephone}`, `{code}`, `{minutes}`, `{text}`).
#[derive(Debug, Clone)]
pub struct Sms<'a> {
    pub area_code: &'a str,
    /// The national number.
    pub telephone: &'a str,
    pub code: &'a str,
    /// How long the code lives, minutes.
    pub minutes: i64,
}

/// Why a message did not go out (logged; the client hears "发送验证码失败").
#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    #[error("SMS gateway unreachable: {0}")]
    Unreachable(String),
    #[error("SMS gateway answered HTTP {0}")]
    Refused(u16),
}

/// The configured sender.
pub enum SmsSender {
    Log { template: String },
    Http(Box<HttpSender>),
}

/// The webhook of `sms.http`.
pub struct HttpSender {
    client: reqwest::Client,
    template: String,
    url: String,
    method: reqwest::Method,
    content_type: String,
    headers: Vec<(String, String)>,
    body: String,
}

/// How a value is written into the place it goes.
#[derive(Clone, Copy)]
enum Escape {
    None,
    Json,
    Url,
}

fn escape(value: &str, how: Escape) -> String {
    match how {
        Escape::None => value.to_string(),
        Escape::Json => {
            let quoted = serde_json::to_string(value).expect("a string serialises");
            quoted[1..quoted.len() - 1].to_string()
        }
        Escape::Url => {
            percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC)
                .to_string()
        }
    }
}

/// `template` with the placeholders of `sms` (and `{text}` when given) filled in.
fn fill(template: &str, sms: &Sms, text: Option<&str>, how: Escape) -> String {
    let phone = format!("{}{}", sms.area_code, sms.telephone);
    let minutes = sms.minutes.to_string();
    let mut out = template.to_string();
    for (name, value) in [
        ("{phone}", phone.as_str()),
        ("{areaCode}", sms.area_code),
        ("{telephone}", sms.telephone),
        ("{code}", sms.code),
        ("{minutes}", minutes.as_str()),
    ] {
        out = out.replace(name, &escape(value, how));
    }
    if let Some(text) = text {
        out = out.replace("{text}", &escape(text, how));
    }
    out
}

impl SmsSender {
    /// The sender of `cfg`; an `http` sender without a URL is a configuration error.
    pub fn from_config(cfg: &SmsConfig) -> Result<SmsSender, String> {
        match cfg.sender {
            SmsSenderKind::Log => Ok(SmsSender::Log {
                template: cfg.template.clone(),
            }),
            SmsSenderKind::Http => {
                let h = &cfg.http;
                if h.url.trim().is_empty() {
                    return Err("sms.sender = \"http\" needs sms.http.url".into());
                }
                let method = reqwest::Method::from_bytes(h.method.to_ascii_uppercase().as_bytes())
                    .map_err(|_| format!("sms.http.method {:?} is not an HTTP method", h.method))?;
                let client = reqwest::Client::builder()
                    .timeout(Duration::from_secs(h.timeout_secs.max(1)))
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .map_err(|e| format!("sms.http: {e}"))?;
                Ok(SmsSender::Http(Box::new(HttpSender {
                    client,
                    template: cfg.template.clone(),
                    url: h.url.clone(),
                    method,
                    content_type: h.content_type.clone(),
                    headers: h
                        .headers
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    body: h.body.clone(),
                })))
            }
        }
    }

    /// Sends the code.
    pub async fn send(&self, sms: &Sms<'_>) -> Result<(), SmsError> {
        match self {
            SmsSender::Log { template } => {
                // The development sender: the one place a code is written down.
                tracing::info!(
                    phone = %format!("{}{}", sms.area_code, sms.telephone),
                    code = %sms.code,
                    text = %fill(template, sms, None, Escape::None),
                    "SMS (sms.sender = log)"
                );
                Ok(())
            }
            SmsSender::Http(h) => h.send(sms).await,
        }
    }
}

impl HttpSender {
    async fn send(&self, sms: &Sms<'_>) -> Result<(), SmsError> {
        let text = fill(&self.template, sms, None, Escape::None);
        let url = fill(&self.url, sms, Some(&text), Escape::Url);
        let mut request = self.client.request(self.method.clone(), &url);
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        if self.method != reqwest::Method::GET && !self.body.is_empty() {
            let ct = self.content_type.to_ascii_lowercase();
            let how = if ct.contains("json") {
                Escape::Json
            } else if ct.contains("x-www-form-urlencoded") {
                Escape::Url
            } else {
                Escape::None
            };
            request = request
                .header(reqwest::header::CONTENT_TYPE, &self.content_type)
                .body(fill(&self.body, sms, Some(&text), how));
        }
        // The error text of reqwest names the URL, never the body: no code in the log.
        let answer = request
            .send()
            .await
            .map_err(|e| SmsError::Unreachable(e.without_url().to_string()))?;
        if answer.status().is_success() {
            Ok(())
        } else {
            Err(SmsError::Refused(answer.status().as_u16()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_escaped_for_where_they_go() {
        let sms = Sms {
            area_code: "86",
            telephone: "138",
            code: "12\"34",
            minutes: 5,
        };
        assert_eq!(
            fill(
                "{\"to\":\"{phone}\",\"c\":\"{code}\",\"t\":\"{text}\"}",
                &sms,
                Some("a\nb"),
                Escape::Json
            ),
            "{\"to\":\"86138\",\"c\":\"12\\\"34\",\"t\":\"a\\nb\"}"
        );
        assert_eq!(
            fill(
                "to={areaCode}-{telephone}&m={minutes}&t={text}",
                &sms,
                Some("验证 码"),
                Escape::Url
            ),
            "to=86-138&m=5&t=%E9%AA%8C%E8%AF%81%20%E7%A0%81"
        );
    }
}
