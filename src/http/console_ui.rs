//! The web console (issue 8): a static single page over the `/console` JSON API, served from the
//! binary at `/pages/console/` (the files of `console-ui/`, embedded at compile time so the
//! server works offline and nothing is fetched at run time). `/console/` redirects there.
//!
//! The pages are public (they hold no data; every call they make takes a console token), so
//! these handlers take no `Params` and never pass the authorization filter of `caller`.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};

/// Where the console's single page lives.
pub const CONSOLE_PAGE: &str = "/pages/console/";

/// The policy on every console file: this origin only, so no CDN script, style, font or image
/// can load and no inline script runs.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

/// The embedded files: (name under `/pages/console/`, content type, bytes).
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("../../console-ui/index.html"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../console-ui/app.js"),
    ),
    (
        "api.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../console-ui/api.js"),
    ),
    (
        "chart.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../console-ui/chart.js"),
    ),
    (
        "md5.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../console-ui/md5.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_bytes!("../../console-ui/style.css"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_bytes!("../../console-ui/favicon.svg"),
    ),
];

/// Registers the console pages and the `/console/` redirect on the app.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/console/", web::get().to(redirect))
        .route("/pages/console", web::get().to(redirect))
        .route(CONSOLE_PAGE, web::get().to(index))
        .route("/pages/console/{asset}", web::get().to(asset));
}

/// The embedded file called `name`, if any.
pub fn find_asset(name: &str) -> Option<(&'static str, &'static [u8])> {
    ASSETS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, t, b)| (*t, *b))
}

async fn redirect() -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, CONSOLE_PAGE))
        .finish()
}

async fn index() -> HttpResponse {
    file("index.html")
}

async fn asset(req: HttpRequest) -> HttpResponse {
    file(req.match_info().get("asset").unwrap_or_default())
}

fn file(name: &str) -> HttpResponse {
    let Some((content_type, bytes)) = find_asset(name) else {
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("404 Not Found");
    };
    let mut res = HttpResponse::Ok();
    res.content_type(content_type)
        // The files change with the binary, not at a stable URL: revalidate every time (they
        // are small, and an upgrade must not leave a stale app.js talking to a new API).
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ));
    res.body(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_the_page_loads_is_embedded() {
        let index = std::str::from_utf8(find_asset("index.html").unwrap().1).unwrap();
        for name in ["app.js", "style.css", "favicon.svg"] {
            assert!(index.contains(name), "{name} not referenced");
        }
        let app = std::str::from_utf8(find_asset("app.js").unwrap().1).unwrap();
        for name in ["api.js", "chart.js", "md5.js"] {
            assert!(app.contains(&format!("./{name}")), "{name} not imported");
            assert!(find_asset(name).is_some(), "{name} not embedded");
        }
        assert!(find_asset("../Cargo.toml").is_none());
        // Nothing from another origin: no CDN, no inline script.
        for (name, _, bytes) in ASSETS {
            let text = String::from_utf8_lossy(bytes);
            assert!(
                !text.contains("https://"),
                "{name} refers to another origin"
            );
            assert!(!text.contains("<script>"), "{name} has an inline script");
        }
    }
}
