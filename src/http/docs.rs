//! Endpoint documentation that routes cannot drift from: a route is registered only through
//! [`Routes::add`], which refuses a path without a doc entry, and the OpenAPI document in
//! `api-docs/` is generated from the same entries (`shiku-server openapi`).

use actix_web::{web, FromRequest, Handler, Responder};
use serde_json::{json, Map, Value};

/// Who may call an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No token (the reference's open paths).
    Open,
    /// A user `access_token`.
    User,
    /// A console token (roles 1/4/5/6/7; the summary says which) or, where the summary says so,
    /// the task system's integration key as `access_token`.
    Console,
    /// A public account's back-office token (`/mp/login`).
    PublicAccount,
}

/// One documented parameter.
#[derive(Debug, Clone, Copy)]
pub struct ParamDoc {
    pub name: &'static str,
    /// `string`, `integer` (int32), `long` (int64) or `number`.
    pub ty: &'static str,
    pub required: bool,
    pub desc: &'static str,
}

/// One documented endpoint.
#[derive(Debug, Clone, Copy)]
pub struct EndpointDoc {
    pub path: &'static str,
    pub tag: &'static str,
    pub summary: &'static str,
    pub access: Access,
    pub params: &'static [ParamDoc],
    /// Result codes this endpoint can answer besides 1 (the shared ones are added).
    pub codes: &'static [i64],
    /// What `data` holds on success.
    pub data: &'static str,
}

/// Shorthand for a parameter entry.
pub const fn p(
    name: &'static str,
    ty: &'static str,
    required: bool,
    desc: &'static str,
) -> ParamDoc {
    ParamDoc {
        name,
        ty,
        required,
        desc,
    }
}

/// Registers routes of one module, each only with its doc entry.
pub struct Routes<'a> {
    cfg: Option<&'a mut web::ServiceConfig>,
    docs: &'static [EndpointDoc],
    /// Paths registered so far (checked against the docs by a test).
    pub registered: Vec<&'static str>,
}

impl<'a> Routes<'a> {
    /// Registers into `cfg`, documented by `docs`.
    pub fn new(cfg: &'a mut web::ServiceConfig, docs: &'static [EndpointDoc]) -> Routes<'a> {
        Routes {
            cfg: Some(cfg),
            docs,
            registered: Vec::new(),
        }
    }

    /// Records paths only (for the drift test).
    pub fn collect(docs: &'static [EndpointDoc]) -> Routes<'static> {
        Routes {
            cfg: None,
            docs,
            registered: Vec::new(),
        }
    }

    /// Registers `handler` for `path` on every HTTP method, as the reference's `@RequestMapping`.
    /// Panics at start-up when `path` has no doc entry: undocumented endpoints cannot ship.
    pub fn add<F, Args>(&mut self, path: &'static str, handler: F)
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        assert!(
            self.docs.iter().any(|d| d.path == path),
            "route {path} has no EndpointDoc entry"
        );
        self.registered.push(path);
        if let Some(cfg) = self.cfg.as_deref_mut() {
            cfg.route(path, web::route().to(handler));
        }
    }
}

fn code_text(code: i64) -> &'static str {
    use crate::domain::Code::*;
    [
        Success,
        Failure,
        ParamsAuthFail,
        ParamsLack,
        InternalError,
        TokenMissing,
        TokenInvalid,
        AuthFailed,
        AccountNotExist,
        AccountOrPasswordIncorrect,
        OldPasswordIsWrong,
        VerifyCodeErrOrExpired,
        SendMsgFail,
        TooFrequent,
        PhoneRegistered,
        NullImgCode,
        ImgCodeError,
        AccountIsLocked,
        SecretInvalid,
    ]
    .into_iter()
    .find(|c| c.value() == code)
    .map(|c| c.text())
    .unwrap_or("")
}

fn schema_of(ty: &str) -> Value {
    match ty {
        "integer" => json!({"type": "integer", "format": "int32"}),
        "long" => json!({"type": "integer", "format": "int64"}),
        "number" => json!({"type": "number", "format": "double"}),
        _ => json!({"type": "string"}),
    }
}

/// The OpenAPI 3 document of these endpoints (the app's are assembled in `http/mod.rs`).
pub fn openapi(docs: &[EndpointDoc]) -> Value {
    let mut paths = Map::new();
    for d in docs.iter().copied() {
        let mut params: Vec<Value> = d
            .params
            .iter()
            .map(|p| {
                json!({
                    "name": p.name, "in": "query", "required": p.required,
                    "description": p.desc, "schema": schema_of(p.ty),
                })
            })
            .collect();
        let token_desc = match d.access {
            Access::Open => None,
            Access::User => Some("访问令牌 (from /user/login or /user/register)"),
            Access::Console => Some(
                "a console token from /console/login (the summary says which roles), or where the summary says so the integration key (integration_key / SHIKU_INTEGRATION_KEY); user tokens are refused",
            ),
            Access::PublicAccount => Some(
                "a public account's token from /mp/login; user and console tokens are refused",
            ),
        };
        if let Some(desc) = token_desc {
            params.insert(
                0,
                json!({"name": "access_token", "in": "query", "required": true,
                       "description": desc, "schema": {"type": "string"}}),
            );
        }
        let mut form_props = Map::new();
        let mut form_required = Vec::new();
        for p in params.iter() {
            let name = p["name"].as_str().unwrap_or_default().to_string();
            if p["required"] == json!(true) {
                form_required.push(json!(name));
            }
            form_props.insert(name, p["schema"].clone());
        }
        let mut codes: Vec<i64> = vec![1, 1010101, 1020101];
        match d.access {
            Access::Open => {}
            Access::User => codes.extend([1030101, 1030102]),
            Access::Console | Access::PublicAccount => codes.extend([1030101, 1030102, 1030103]),
        }
        codes.extend(d.codes.iter().copied());
        codes.sort();
        codes.dedup();
        let codes_desc = codes
            .iter()
            .map(|c| format!("{c} {}", code_text(*c)))
            .collect::<Vec<_>>()
            .join("; ");
        let mut security = Vec::new();
        if d.access != Access::Open {
            security.push(json!({"accessToken": []}));
        }
        let op = |method: &str| {
            let mut op = json!({
                "tags": [d.tag],
                "summary": d.summary,
                "operationId": format!("{method}{}", d.path.replace('/', "_")),
                "security": security,
                "responses": {
                    "200": {
                        "description": format!("Shiku envelope; data: {}. resultCode: {codes_desc}", d.data),
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Envelope"}}}
                    }
                }
            });
            if method == "get" {
                op["parameters"] = Value::Array(params.clone());
            } else {
                op["requestBody"] = json!({
                    "content": {
                        "application/x-www-form-urlencoded": {"schema": {
                            "type": "object", "properties": form_props, "required": form_required}},
                        "multipart/form-data": {"schema": {
                            "type": "object", "properties": form_props, "required": form_required}}
                    }
                });
            }
            op
        };
        paths.insert(
            d.path.to_string(),
            json!({"get": op("get"), "post": op("post")}),
        );
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "shiku-server API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The Shiku IM REST API as served by shiku-server. Every endpoint accepts GET with a query string and POST with a form body; unknown parameters (such as flag=rw) are ignored. Business errors are HTTP 200 with a non-1 resultCode.",
        },
        "components": {
            "securitySchemes": {
                "accessToken": {"type": "apiKey", "in": "query", "name": "access_token"}
            },
            "schemas": {
                "Envelope": {
                    "type": "object",
                    "required": ["resultCode", "currentTime"],
                    "properties": {
                        "resultCode": {"type": "integer", "description": "1 success, 0 failure, 1010101 bad parameter, 1020101 internal, 1030101 missing token, 1030102 invalid token, 1040101.. account errors"},
                        "resultMsg": {"type": "string", "description": "zh text; omitted on plain success"},
                        "data": {"description": "omitted when null"},
                        "currentTime": {"type": "integer", "format": "int64", "description": "server time, ms"}
                    }
                }
            }
        },
        "paths": paths,
    })
}
