//! Item pictures: an upload is decoded, shrunk to a bounded size and encoded again here, then
//! kept in MongoDB GridFS (bucket `pictures`) under its content-hash name.
//!
//! GridFS because pictures belong to items, which already live in this service's database:
//! one store to back up and replicate, no new infrastructure on any machine, and chunks of
//! 255 KiB that stay far below the document size limit.

use std::io::Cursor;
use std::sync::Arc;

use futures::{AsyncReadExt, AsyncWriteExt};
use image::{DynamicImage, ImageError, ImageFormat, ImageReader, Limits};
use mongodb::bson::{Bson, Document, doc};
use mongodb::error::{ErrorKind, GridFsErrorKind};
use mongodb::gridfs::GridFsBucket;
use mongodb::options::GridFsBucketOptions;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use wire::UserId;
use wire::picture::{
    CARD_SIDE, MAX_SIDE, MAX_UPLOAD_BYTES, NOT_A_PICTURE, PictureKind, PictureName, PictureSize,
    StoredPicture, too_large,
};

use common::input::FieldError;

use crate::error::ApiError;

/// The most pixels on either side of an upload; anything larger is refused before it is
/// decoded, so a small file cannot unpack into gigabytes.
const MAX_UPLOAD_SIDE: u32 = 12_000;

/// The most memory one decode may take.
const MAX_DECODE_BYTES: u64 = 300 * 1024 * 1024;

/// JPEG quality of a re-encoded photo: no visible loss at a third of the original's size.
const JPEG_QUALITY: u8 = 85;

/// The GridFS bucket of this service's database that holds the pictures.
const BUCKET: &str = "pictures";

/// A picture made here from an upload, ready to store.
#[derive(Debug)]
pub struct Prepared {
    /// Its name: the hash of [`Self::bytes`] and its kind.
    pub name: PictureName,
    /// The encoded picture.
    pub bytes: Vec<u8>,
    /// Its width in pixels.
    pub width: u32,
    /// Its height in pixels.
    pub height: u32,
    /// The smaller copy for catalog cards (at most [`CARD_SIDE`]), made from the same pixels.
    pub card: Vec<u8>,
}

/// Turns an upload into a picture of ours: the kind by its first bytes, the pixels decoded
/// within bounds, at most [`MAX_SIDE`] on the longest side, encoded again in the same kind
/// (so whatever else the file held is not kept). Every refusal names the `picture` field.
pub fn prepare(upload: &[u8]) -> Result<Prepared, FieldError> {
    if upload.len() > MAX_UPLOAD_BYTES {
        return Err(FieldError::new("picture", too_large(upload.len())));
    }
    let kind =
        PictureKind::sniff(upload).ok_or_else(|| FieldError::new("picture", NOT_A_PICTURE))?;
    let format = match kind {
        PictureKind::Jpeg => ImageFormat::Jpeg,
        PictureKind::Png => ImageFormat::Png,
        PictureKind::Webp => ImageFormat::WebP,
    };
    let mut reader = ImageReader::with_format(Cursor::new(upload), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_UPLOAD_SIDE);
    limits.max_image_height = Some(MAX_UPLOAD_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let image = reader.decode().map_err(|err| match err {
        ImageError::Limits(_) => FieldError::new(
            "picture",
            "That picture has too many pixels: at most 12,000 on a side.",
        ),
        _ => FieldError::new(
            "picture",
            "That picture could not be read: the file may be damaged or cut short.",
        ),
    })?;
    let image = if image.width() > MAX_SIDE || image.height() > MAX_SIDE {
        image.thumbnail(MAX_SIDE, MAX_SIDE)
    } else {
        image
    };
    let encoding_failed = |err: ImageError| {
        tracing::warn!(%err, "a decoded picture could not be encoded again");
        FieldError::new(
            "picture",
            "That picture could not be read: the file may be damaged or cut short.",
        )
    };
    let bytes = encode(&image, kind).map_err(encoding_failed)?;
    let card = if image.width() > CARD_SIDE || image.height() > CARD_SIDE {
        encode(&image.thumbnail(CARD_SIDE, CARD_SIDE), kind).map_err(encoding_failed)?
    } else {
        bytes.clone()
    };
    Ok(Prepared {
        name: PictureName::from_digest(&Sha256::digest(&bytes), kind),
        width: image.width(),
        height: image.height(),
        bytes,
        card,
    })
}

/// `image` in `kind`: a JPEG as a JPEG, a PNG as a PNG (transparency kept), a WebP as a
/// lossless WebP (the one WebP encoder the `image` crate has).
fn encode(image: &DynamicImage, kind: PictureKind) -> Result<Vec<u8>, ImageError> {
    let mut bytes = Vec::new();
    let pixels = if image.color().has_alpha() && kind != PictureKind::Jpeg {
        DynamicImage::ImageRgba8(image.to_rgba8())
    } else {
        DynamicImage::ImageRgb8(image.to_rgb8())
    };
    match kind {
        PictureKind::Jpeg => pixels.write_with_encoder(
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, JPEG_QUALITY),
        )?,
        PictureKind::Png => {
            pixels.write_with_encoder(image::codecs::png::PngEncoder::new(&mut bytes))?
        }
        PictureKind::Webp => {
            pixels.write_with_encoder(image::codecs::webp::WebPEncoder::new_lossless(&mut bytes))?
        }
    }
    Ok(bytes)
}

/// How many pictures may come in, and from whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PictureLimits {
    /// Uploads one seller may make an hour (`PICTURES_PER_SELLER_PER_HOUR`).
    pub per_seller_per_hour: i64,
    /// Uploads one client address may make an hour, every seller behind it together
    /// (`PICTURES_PER_ADDRESS_PER_HOUR`): accounts are free, addresses are not.
    pub per_address_per_hour: i64,
    /// Pictures one seller may keep stored (`PICTURES_PER_SELLER_STORED`).
    pub stored_per_seller: u64,
}

impl Default for PictureLimits {
    fn default() -> Self {
        Self {
            per_seller_per_hour: 60,
            per_address_per_hour: 120,
            stored_per_seller: 500,
        }
    }
}

/// The stored pictures, the bound on how many are decoded at once, and the allowances.
#[derive(Clone)]
pub struct Pictures {
    bucket: GridFsBucket,
    /// The bucket's file documents (`pictures.files`), for counting and sweeping.
    pub(crate) files: mongodb::Collection<Document>,
    /// The bucket's chunks (`pictures.chunks`), removed with their file.
    pub(crate) chunks: mongodb::Collection<Document>,
    /// Decoding takes a core and up to [`MAX_DECODE_BYTES`]: two at a time per copy.
    decoding: Arc<Semaphore>,
    /// Where uploads are counted, so every copy of the service counts together.
    counts: fred::prelude::Client,
    limits: PictureLimits,
}

impl Pictures {
    /// The `pictures` GridFS bucket of `database`; uploads are counted in `counts` and
    /// bounded by `limits`.
    pub fn new(
        database: &mongodb::Database,
        counts: fred::prelude::Client,
        limits: PictureLimits,
    ) -> Self {
        let options = GridFsBucketOptions::builder()
            .bucket_name(BUCKET.to_owned())
            .build();
        Self {
            bucket: database.gridfs_bucket(options),
            files: database.collection(&format!("{BUCKET}.files")),
            chunks: database.collection(&format!("{BUCKET}.chunks")),
            decoding: Arc::new(Semaphore::new(2)),
            counts,
            limits,
        }
    }

    /// Counts one upload of `seller`'s from `client_address`; refused past either hourly
    /// allowance (one upload is up to 5 MB kept and a core's worth of decoding) or when the
    /// seller keeps as many pictures as a seller may. Without Redis no upload is taken.
    async fn admit(&self, seller: &UserId, client_address: &str) -> Result<(), ApiError> {
        let hourly = |prefix: &'static str, subject: String| async move {
            common::infra::redis::count_in_window(&self.counts, prefix, &subject, 3600)
                .await
                .map_err(|err| {
                    tracing::warn!(%err, "picture uploads cannot be counted");
                    ApiError::PictureNotSaved
                })
        };
        let (by_seller, seconds_left) =
            hourly("picture-uploads", seller.as_str().to_owned()).await?;
        if by_seller > self.limits.per_seller_per_hour {
            return Err(ApiError::TooManyPictures {
                allowed: self.limits.per_seller_per_hour,
                retry_after: std::time::Duration::from_secs(seconds_left.max(1)),
            });
        }
        let (by_address, seconds_left) =
            hourly("picture-uploads-from", client_address.to_owned()).await?;
        if by_address > self.limits.per_address_per_hour {
            return Err(ApiError::TooManyPicturesFromAddress {
                allowed: self.limits.per_address_per_hour,
                retry_after: std::time::Duration::from_secs(seconds_left.max(1)),
            });
        }
        // Each picture is two files (itself and its card copy).
        let stored = self
            .files
            .count_documents(doc! { "metadata.seller_id": seller.as_str() })
            .await?
            / 2;
        if stored >= self.limits.stored_per_seller {
            return Err(ApiError::TooManyPicturesStored {
                allowed: self.limits.stored_per_seller,
            });
        }
        Ok(())
    }

    /// Makes a picture of ours from `upload` for `seller` (at `client_address`) and stores it,
    /// once: the same picture uploaded again (a retried form) finds itself already stored,
    /// and counts as new for the sweeper of unused pictures. Call it only once everything
    /// else the form says is accepted: whatever is stored stays until no item has used it
    /// for [`crate::unused_pictures::UnusedPictures::grace`].
    pub async fn store(
        &self,
        upload: Vec<u8>,
        seller: &UserId,
        client_address: &str,
    ) -> Result<StoredPicture, ApiError> {
        if upload.is_empty() {
            return Err(FieldError::new("picture", "Choose a picture to upload.").into());
        }
        // Its kind before any allowance is spent on it.
        if PictureKind::sniff(&upload).is_none() {
            return Err(FieldError::new("picture", NOT_A_PICTURE).into());
        }
        self.admit(seller, client_address).await?;
        let picture = {
            let _permit = self
                .decoding
                .acquire()
                .await
                .map_err(|_| ApiError::PictureNotSaved)?;
            tokio::task::spawn_blocking(move || prepare(&upload))
                .await
                .map_err(|_| ApiError::PictureNotSaved)??
        };
        let stored = StoredPicture {
            name: picture.name.clone(),
            width: picture.width,
            height: picture.height,
            bytes: picture.bytes.len() as u64,
        };
        // The card first: a stored picture always has its card. One already stored is new
        // again, so that the sweeper does not take it from the item about to use it.
        if self.touch(&picture.name).await? {
            return Ok(stored);
        }
        self.put(&picture.name, PictureSize::Card, &picture.card, seller)
            .await?;
        self.put(&picture.name, PictureSize::Full, &picture.bytes, seller)
            .await?;
        tracing::info!(picture = %picture.name, seller_id = %seller, bytes = stored.bytes, "picture stored");
        Ok(stored)
    }

    /// Dates both copies of a stored picture now; `false` when it is not (wholly) stored.
    async fn touch(&self, name: &PictureName) -> Result<bool, ApiError> {
        let ids = [
            file_id(name, PictureSize::Full),
            file_id(name, PictureSize::Card),
        ];
        let touched = self
            .files
            .update_many(
                doc! { "_id": { "$in": ids.to_vec() } },
                doc! { "$set": { "uploadDate": mongodb::bson::DateTime::now() } },
            )
            .await?;
        Ok(touched.matched_count == 2)
    }

    /// Stores one copy of a picture under its id, unless it is there already.
    async fn put(
        &self,
        name: &PictureName,
        size: PictureSize,
        bytes: &[u8],
        seller: &UserId,
    ) -> Result<(), ApiError> {
        if size == PictureSize::Card && self.exists(name, size).await? {
            return Ok(());
        }
        let mut upload = self
            .bucket
            .open_upload_stream(name.as_str())
            .id(file_id(name, size))
            .metadata(doc! {
                "content_type": name.kind().content_type(),
                "seller_id": seller.as_str(),
            })
            .await?;
        let written = match upload.write_all(bytes).await {
            Ok(()) => upload.close().await,
            Err(err) => Err(err),
        };
        if let Err(err) = written {
            // Two uploads of the same picture at once: the other one's chunks are the same
            // bytes, so its copy is as good as ours.
            if self.exists(name, size).await? {
                return Ok(());
            }
            tracing::warn!(%err, picture = %name, ?size, "a picture was not stored");
            return Err(ApiError::PictureNotSaved);
        }
        Ok(())
    }

    /// The bytes of one copy of the picture called `name`, or `None` when there is none.
    pub async fn load(
        &self,
        name: &PictureName,
        size: PictureSize,
    ) -> Result<Option<Vec<u8>>, ApiError> {
        let mut download = match self.bucket.open_download_stream(file_id(name, size)).await {
            Ok(download) => download,
            Err(err) => {
                return match *err.kind {
                    ErrorKind::GridFs(GridFsErrorKind::FileNotFound { .. }) => Ok(None),
                    _ => Err(err.into()),
                };
            }
        };
        let mut bytes = Vec::new();
        if let Err(err) = download.read_to_end(&mut bytes).await {
            tracing::warn!(%err, picture = %name, "a picture could not be read");
            return Err(ApiError::PictureNotSaved);
        }
        Ok(Some(bytes))
    }

    async fn exists(&self, name: &PictureName, size: PictureSize) -> Result<bool, ApiError> {
        Ok(self
            .bucket
            .find_one(doc! { "_id": file_id(name, size) })
            .await?
            .is_some())
    }
}

/// A copy's GridFS id: the picture's name, or `card/` and the name for its smaller copy.
fn file_id(name: &PictureName, size: PictureSize) -> Bson {
    Bson::String(match size {
        PictureSize::Full => name.as_str().to_owned(),
        PictureSize::Card => format!("card/{name}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage, Rgba, RgbaImage};

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = RgbaImage::from_fn(width, height, |x, y| {
            Rgba([(x % 256) as u8, (y % 256) as u8, 128, 200])
        });
        let mut bytes = Vec::new();
        DynamicImage::ImageRgba8(image)
            .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
            .unwrap();
        bytes
    }

    #[test]
    fn a_large_picture_is_shrunk_to_the_bound_keeping_its_shape_and_kind() {
        let picture = prepare(&png(2000, 1000)).unwrap();
        assert_eq!((picture.width, picture.height), (MAX_SIDE, MAX_SIDE / 2));
        assert_eq!(picture.name.kind(), PictureKind::Png);
        assert_eq!(PictureKind::sniff(&picture.bytes), Some(PictureKind::Png));
        assert!(picture.name.as_str().ends_with(".png"));
    }

    #[test]
    fn the_card_copy_is_at_most_the_card_side_and_a_small_picture_is_its_own_card() {
        let picture = prepare(&png(2000, 1000)).unwrap();
        let card = image::load_from_memory(&picture.card).unwrap();
        assert_eq!((card.width(), card.height()), (CARD_SIDE, CARD_SIDE / 2));
        let small = prepare(&png(300, 200)).unwrap();
        assert_eq!(small.card, small.bytes);
    }

    #[test]
    fn a_small_picture_keeps_its_size_and_the_same_upload_gets_the_same_name() {
        let upload = png(40, 30);
        let first = prepare(&upload).unwrap();
        assert_eq!((first.width, first.height), (40, 30));
        assert_eq!(prepare(&upload).unwrap().name, first.name);
    }

    #[test]
    fn a_jpeg_comes_back_a_jpeg_and_whatever_followed_it_is_gone() {
        let mut upload = Vec::new();
        DynamicImage::ImageRgb8(RgbImage::from_pixel(64, 48, Rgb([200, 10, 10])))
            .write_to(&mut Cursor::new(&mut upload), ImageFormat::Jpeg)
            .unwrap();
        upload.extend_from_slice(b"<script>alert(1)</script>");
        let picture = prepare(&upload).unwrap();
        assert_eq!(picture.name.kind(), PictureKind::Jpeg);
        assert!(!picture.bytes.windows(8).any(|w| w == b"<script>"));
    }

    #[test]
    fn text_named_like_a_picture_is_refused_as_not_a_picture() {
        let err = prepare(b"this is not a picture at all, just text saved as .png").unwrap_err();
        assert_eq!(
            (err.field.as_str(), err.message.as_str()),
            ("picture", NOT_A_PICTURE)
        );
    }

    #[test]
    fn a_picture_cut_short_is_refused_as_unreadable() {
        let upload = png(100, 100);
        let err = prepare(&upload[..upload.len() / 2]).unwrap_err();
        assert_eq!(err.field, "picture");
        assert!(err.message.contains("could not be read"), "{}", err.message);
    }

    #[test]
    fn a_header_claiming_a_huge_picture_is_refused_before_decoding() {
        // A valid PNG header that says 60,000 x 60,000 pixels (14 GB of RGBA).
        let mut upload = png(1, 1);
        upload[16..20].copy_from_slice(&60_000u32.to_be_bytes());
        upload[20..24].copy_from_slice(&60_000u32.to_be_bytes());
        let err = prepare(&upload).unwrap_err();
        assert_eq!(err.field, "picture");
    }

    #[test]
    fn more_than_five_megabytes_is_refused_with_its_size() {
        let err = prepare(&vec![0u8; 6 * 1024 * 1024]).unwrap_err();
        assert_eq!(err.message, too_large(6 * 1024 * 1024));
    }
}
