//! The topology websockets' side of the connection: the upgrade, and the frames the app sends,
//! compressed with `permessage-deflate` (RFC 7692) when the client offers it, as browsers do.
//! A live view's first message holds every node (11.2 MiB of JSON for `processes` at 100
//! probes) and compresses to about a seventh.
//!
//! actix-ws writes frames without extensions (actix-web issue #1635, PR #3496 unmerged), so the
//! frames are written here with actix-http's own frame writer, and only the compressed flag
//! (RSV1) is set by hand. What the client sends is still read by actix-ws's `MessageStream`.
//! Each message is compressed on its own (`server_no_context_takeover`), so a socket holds no
//! compressor between ticks: a thousand sockets would otherwise keep a quarter of a megabyte
//! each. The client is told `client_no_context_takeover` too; clients have nothing to say on
//! these sockets but pings and close, which are never compressed, and actix-ws closes a socket
//! whose client sends a compressed message.

use std::convert::Infallible;
use std::io::Write;

use actix_http::ws::{CloseReason, OpCode, Parser};
use actix_web::body::{BodyStream, MessageBody};
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::MessageStream;
use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc;

/// The extension as agreed in the 101 answer.
const AGREED: &str = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
/// Messages shorter than this are sent as they are: an empty diff is about 50 bytes, and
/// DEFLATE's framing would make it no smaller.
const COMPRESS_FROM: usize = 256;
/// The 4 bytes a sync flush ends with, which RFC 7692 has the sender remove.
const SYNC_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];
/// RSV1 in a frame's first byte: "this message is compressed".
const RSV1: u8 = 0x40;

/// The sending half of an upgraded socket. The frames go to the response body; sending fails
/// once actix has dropped it (the connection is gone).
pub struct Outgoing {
    frames: mpsc::Sender<Bytes>,
    texts: TextFrames,
}

/// How a socket's text messages are framed: compressed or not, as agreed.
#[derive(Clone, Copy)]
pub struct TextFrames {
    deflate: bool,
}

/// The socket is closed: nothing more can be sent.
#[derive(Debug)]
pub struct Closed;

/// Upgrades the request: the 101 answer (with the extension when agreed), the sending half and
/// the client's messages.
pub fn upgrade(
    req: &HttpRequest,
    body: web::Payload,
) -> Result<(HttpResponse, Outgoing, MessageStream), actix_web::Error> {
    // actix-ws checks the handshake, answers it and reads what the client sends; its answer
    // keeps its head and takes our frames as its body, and its own sending half is set aside.
    let (response, _, messages) = actix_ws::handle(req, body)?;
    // As actix-ws: a few frames may wait while the connection writes; a slow client then
    // holds the sender back rather than the app's memory growing.
    let (frames, mut queued) = mpsc::channel::<Bytes>(32);
    let stream = futures::stream::poll_fn(move |cx| {
        queued
            .poll_recv(cx)
            .map(|frame| frame.map(Ok::<_, Infallible>))
    });
    let mut response = response.set_body(BodyStream::new(stream).boxed());
    let deflate = offered(
        req.headers()
            .get_all(header::SEC_WEBSOCKET_EXTENSIONS)
            .filter_map(|v| v.to_str().ok()),
    );
    if deflate {
        response.headers_mut().insert(
            header::SEC_WEBSOCKET_EXTENSIONS,
            HeaderValue::from_static(AGREED),
        );
    }
    Ok((
        response,
        Outgoing {
            frames,
            texts: TextFrames { deflate },
        },
        messages,
    ))
}

impl TextFrames {
    /// A text message's frame, compressed if agreed and worth it. CPU-bound for a large
    /// message (about 30 ms for 12.8 MiB): call it off the worker thread.
    pub fn frame(self, text: &str) -> Bytes {
        let mut frame = BytesMut::new();
        if self.deflate && text.len() >= COMPRESS_FROM {
            Parser::write_message(
                &mut frame,
                deflate(text.as_bytes()),
                OpCode::Text,
                true,
                false,
            );
            frame[0] |= RSV1;
        } else {
            Parser::write_message(&mut frame, text, OpCode::Text, true, false);
        }
        frame.freeze()
    }
}

impl Outgoing {
    pub fn text_frames(&self) -> TextFrames {
        self.texts
    }

    pub async fn send(&self, frame: Bytes) -> Result<(), Closed> {
        self.frames.send(frame).await.map_err(|_| Closed)
    }

    pub async fn pong(&self, payload: &[u8]) -> Result<(), Closed> {
        let mut frame = BytesMut::new();
        Parser::write_message(&mut frame, payload, OpCode::Pong, true, false);
        self.send(frame.freeze()).await
    }

    /// Sends the close frame; the response body ends when `self` is dropped.
    pub async fn close(&self, reason: Option<CloseReason>) {
        let mut frame = BytesMut::new();
        Parser::write_close(&mut frame, reason, false);
        let _ = self.send(frame.freeze()).await;
    }
}

/// Whether one of the client's offers (`Sec-WebSocket-Extensions` values, each a list) is a
/// `permessage-deflate` the app can agree to: any offer but one that limits the app's own
/// window (`server_max_window_bits` below 15) or has parameters RFC 7692 does not define.
fn offered<'a>(values: impl Iterator<Item = &'a str>) -> bool {
    values.flat_map(|v| v.split(',')).any(|offer| {
        let mut parts = offer.split(';').map(str::trim);
        if parts.next() != Some("permessage-deflate") {
            return false;
        }
        let mut seen: Vec<&str> = Vec::new();
        parts.all(|param| {
            let (name, value) = match param.split_once('=') {
                Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
                None => (param, None),
            };
            if seen.contains(&name) {
                return false;
            }
            seen.push(name);
            match (name, value) {
                ("server_no_context_takeover" | "client_no_context_takeover", None) => true,
                ("client_max_window_bits", None) => true,
                ("client_max_window_bits", Some(bits)) => window_bits(bits),
                ("server_max_window_bits", Some(bits)) => bits == "15",
                _ => false,
            }
        })
    })
}

fn window_bits(bits: &str) -> bool {
    bits.parse::<u8>().is_ok_and(|b| (8..=15).contains(&b))
}

/// `data` compressed as RFC 7692 §7.2.1 has it: raw DEFLATE, sync-flushed, without the flush's
/// 4-byte tail. zlib's fastest level: about 400 MiB/s here, and a seventh of the size for
/// view JSON (BENCHMARKS.md).
fn deflate(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::DeflateEncoder::new(
        Vec::with_capacity(data.len() / 4 + 64),
        flate2::Compression::fast(),
    );
    // Writing to a Vec cannot fail.
    encoder.write_all(data).expect("deflate into memory");
    encoder.flush().expect("deflate into memory");
    let mut out = std::mem::take(encoder.get_mut());
    debug_assert!(out.ends_with(&SYNC_TAIL));
    if out.ends_with(&SYNC_TAIL) {
        out.truncate(out.len() - SYNC_TAIL.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offers(values: &[&str]) -> bool {
        offered(values.iter().copied())
    }

    #[test]
    fn browsers_offers_are_agreed_and_limits_on_our_window_are_not() {
        // Chromium's and Firefox's offer.
        assert!(offers(&["permessage-deflate; client_max_window_bits"]));
        assert!(offers(&["permessage-deflate"]));
        assert!(offers(&[
            "permessage-deflate; server_no_context_takeover; client_max_window_bits=10"
        ]));
        assert!(offers(&["permessage-deflate;server_max_window_bits=15"]));
        // A later offer in the list, or in a second header, counts.
        assert!(offers(&[
            "x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=9, permessage-deflate"
        ]));
        assert!(offers(&["x-other", "permessage-deflate"]));

        assert!(!offers(&[]));
        assert!(!offers(&["x-webkit-deflate-frame"]));
        assert!(!offers(&["permessage-deflate; server_max_window_bits=10"]));
        assert!(!offers(&["permessage-deflate; server_max_window_bits"]));
        assert!(!offers(&["permessage-deflate; client_max_window_bits=16"]));
        assert!(!offers(&["permessage-deflate; unknown_param"]));
        assert!(!offers(&[
            "permessage-deflate; client_no_context_takeover; client_no_context_takeover"
        ]));
    }

    /// The frame's opcode byte and payload (server frames are never masked).
    fn parts(frame: &[u8]) -> (u8, &[u8]) {
        let (len, at) = match frame[1] & 0x7f {
            126 => (u16::from_be_bytes([frame[2], frame[3]]) as usize, 4),
            127 => (
                u64::from_be_bytes(frame[2..10].try_into().unwrap()) as usize,
                10,
            ),
            n => (n as usize, 2),
        };
        assert_eq!(frame[1] & 0x80, 0, "unmasked");
        assert_eq!(frame.len(), at + len);
        (frame[0], &frame[at..])
    }

    /// As a client inflates a message: the tail put back, and no end of stream expected.
    fn inflate(payload: &[u8]) -> String {
        let mut whole = payload.to_vec();
        whole.extend_from_slice(&SYNC_TAIL);
        let mut out = Vec::with_capacity(whole.len() * 20);
        flate2::Decompress::new(false)
            .decompress_vec(&whole, &mut out, flate2::FlushDecompress::Sync)
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn large_messages_are_compressed_when_agreed_and_small_ones_never() {
        let large: String = (0..2_000)
            .map(|i| format!(r#"{{"id":"{i};<host>","label":"host-{i}"}},"#))
            .collect();
        let frame = TextFrames { deflate: true }.frame(&large);
        let (first, payload) = parts(&frame);
        assert_eq!(first, 0x80 | RSV1 | 0x1, "final text frame, compressed");
        assert!(payload.len() * 5 < large.len(), "{} bytes", payload.len());
        assert_eq!(inflate(payload), large);

        let small = r#"{"add":null,"update":null,"remove":null}"#;
        let frame = TextFrames { deflate: true }.frame(small);
        assert_eq!(parts(&frame), (0x81, small.as_bytes()));

        let frame = TextFrames { deflate: false }.frame(&large);
        assert_eq!(parts(&frame), (0x81, large.as_bytes()), "not agreed: plain");
    }
}
