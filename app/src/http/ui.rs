//! The browser UI: `ui/dist/` compiled into the binary (rust-embed with `debug-embed`, so a
//! debug build serves the same committed bundle as a release build and needs no Node).
//! `index.html` is revalidated on every load; the content-hashed assets it names are cached
//! for a year. Compressible files are gzipped once, on first use, for clients that accept it.

use std::collections::HashMap;
use std::io::Write;
use std::sync::OnceLock;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "../ui/dist/"]
struct Dist;

const INDEX: &str = "index.html";
const REVALIDATE: &str = "no-cache";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// One file ready to send: its bytes, their gzip when that is smaller, and its validator.
struct Asset {
    plain: Vec<u8>,
    gzip: Option<Vec<u8>>,
    etag: String,
    content_type: &'static str,
}

fn assets() -> &'static HashMap<String, Asset> {
    static ASSETS: OnceLock<HashMap<String, Asset>> = OnceLock::new();
    ASSETS.get_or_init(|| {
        Dist::iter()
            .filter_map(|path| {
                let file = Dist::get(&path)?;
                let plain = file.data.into_owned();
                let content_type = content_type(&path);
                let gzip = compressible(content_type)
                    .then(|| gzip(&plain))
                    .filter(|gz| gz.len() < plain.len());
                let hash = file.metadata.sha256_hash();
                let etag = format!("\"{}\"", hex(&hash[..12]));
                Some((
                    path.into_owned(),
                    Asset {
                        plain,
                        gzip,
                        etag,
                        content_type,
                    },
                ))
            })
            .collect()
    })
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

fn compressible(content_type: &str) -> bool {
    content_type.starts_with("text/")
        || content_type.contains("json")
        || content_type.contains("svg")
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data).expect("writing to a Vec");
    encoder.finish().expect("writing to a Vec")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether the client takes gzip (`Accept-Encoding: gzip`, not `gzip;q=0`).
fn accepts_gzip(req: &HttpRequest) -> bool {
    req.headers()
        .get_all(header::ACCEPT_ENCODING)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|p| p.replace(' ', "") == "q=0" || p == "q=0.0");
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

fn serve(req: &HttpRequest, path: &str, cache_control: &'static str) -> HttpResponse {
    let Some(asset) = assets().get(path) else {
        // JSON like every other error of the API, so clients and the API document agree.
        return HttpResponse::NotFound()
            .json(serde_json::json!({ "error": format!("no UI asset {path:?}") }));
    };
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == asset.etag));
    let mut response = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::CACHE_CONTROL, cache_control))
        .insert_header((header::ETAG, asset.etag.as_str()))
        .insert_header((header::VARY, "Accept-Encoding"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    if fresh {
        return response.finish();
    }
    response.insert_header((
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    ));
    match &asset.gzip {
        Some(gz) if accepts_gzip(req) => response
            .insert_header((header::CONTENT_ENCODING, "gzip"))
            .body(gz.clone()),
        _ => response.body(asset.plain.clone()),
    }
}

/// `GET /`: the UI's page.
pub async fn index(req: HttpRequest) -> HttpResponse {
    serve(&req, INDEX, REVALIDATE)
}

/// `GET /assets/{file}`: a content-hashed script, stylesheet or worker.
pub async fn asset(req: HttpRequest, file: web::Path<String>) -> HttpResponse {
    serve(&req, &format!("assets/{file}"), IMMUTABLE)
}
