//! Reading a form that carries a picture (`multipart/form-data`): its text fields, bounded,
//! and the picture's bytes, checked to be a picture of a kind we take by their first bytes.

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use leptos::server_fn::codec::MultipartData;
use wire::picture::{MAX_UPLOAD_BYTES, NOT_A_PICTURE, PictureKind, too_large};

use crate::error::AppError;

/// The name of the file field in every upload form.
pub const PICTURE_FIELD: &str = "picture";

/// The most text one field of an upload form may hold (a description is 5,000 characters).
const MAX_TEXT_BYTES: usize = 32 * 1024;

/// The most parts an upload form may have; ours have at most seven.
const MAX_PARTS: usize = 16;

/// An upload form, read whole.
#[derive(Debug, Default)]
pub struct UploadForm {
    texts: HashMap<String, String>,
    /// The chosen picture's bytes, `None` when no file was chosen.
    picture: Option<Bytes>,
    /// Why the chosen file is refused, if it is.
    picture_refused: Option<AppError>,
}

impl UploadForm {
    /// Reads every part of `data`; a form that cannot be read is refused. The picture is
    /// checked too (see [`Self::picture`]), read whole first so that the browser gets the
    /// answer.
    pub async fn read(data: MultipartData) -> Result<Self, AppError> {
        let unreadable = || AppError::new("That form could not be read; send it again.");
        let mut multipart = data.into_inner().ok_or_else(unreadable)?;
        let mut form = Self::default();
        let mut picture_bytes = 0usize;
        let mut parts = 0usize;
        while let Some(mut field) = multipart.next_field().await.map_err(|_| unreadable())? {
            parts += 1;
            if parts > MAX_PARTS {
                return Err(unreadable());
            }
            let name = field.name().unwrap_or_default().to_owned();
            if name == PICTURE_FIELD {
                let mut picture = BytesMut::new();
                while let Some(chunk) = field.chunk().await.map_err(|_| unreadable())? {
                    picture_bytes += chunk.len();
                    // Past the bound the rest is read and dropped, to name its size.
                    if picture_bytes <= MAX_UPLOAD_BYTES {
                        picture.extend_from_slice(&chunk);
                    }
                }
                form.picture = (picture_bytes > 0).then(|| picture.freeze());
                continue;
            }
            let mut text = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(|_| unreadable())? {
                if text.len() + chunk.len() > MAX_TEXT_BYTES {
                    return Err(AppError::for_field(name, "That is far too long."));
                }
                text.extend_from_slice(&chunk);
            }
            let text = String::from_utf8(text)
                .map_err(|_| AppError::for_field(name.clone(), "That is not readable text."))?;
            form.texts.insert(name, text);
        }
        if picture_bytes > MAX_UPLOAD_BYTES {
            form.picture_refused =
                Some(AppError::for_field(PICTURE_FIELD, too_large(picture_bytes)));
        } else if form
            .picture
            .as_deref()
            .is_some_and(|bytes| PictureKind::sniff(bytes).is_none())
        {
            form.picture_refused = Some(AppError::for_field(PICTURE_FIELD, NOT_A_PICTURE));
        }
        Ok(form)
    }

    /// The chosen picture (`None` when no file was chosen), refused beside its field when it
    /// is over 5 MB or not a JPEG, PNG or WebP by its first bytes. Asked for after the fields
    /// that say what the form is about, so the refusal goes back beside the right form.
    pub fn picture(&self) -> Result<Option<Bytes>, AppError> {
        match &self.picture_refused {
            Some(refusal) => Err(refusal.clone()),
            None => Ok(self.picture.clone()),
        }
    }

    /// The text of field `name`, empty when the form did not send it.
    pub fn text(&self, name: &str) -> &str {
        self.texts.get(name).map_or("", String::as_str)
    }
}
