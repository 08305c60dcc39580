//! Typed errors of the library. `main` adds context with anyhow and prints the chain.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("GPU: {0}")]
    Gpu(String),
    #[error("no wgpu adapter found (install a Vulkan driver such as mesa-vulkan-drivers, or use --device cpu)")]
    NoAdapter,
    #[error("catalogue {path}: {reason}")]
    Catalogue { path: PathBuf, reason: String },
    #[error("{path}: parquet: {source}")]
    Parquet {
        path: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
    pub fn parquet(path: impl Into<PathBuf>, source: parquet::errors::ParquetError) -> Self {
        Error::Parquet { path: path.into(), source }
    }
}

/// Why one upload could not be processed: the `uploads` table's `error_kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum UploadErrorKind {
    /// Not a video FFmpeg can open, or no video stream in it.
    Unreadable,
    /// Opened, but decoding failed part-way.
    Decode,
    /// Over a configured limit (size, pixels, duration).
    Limit,
    /// The archive around it is damaged.
    Archive,
    /// Not a regular file (link, device, folder).
    NotAFile,
    /// An archive inside an archive: uploads must be videos; nested archives are not opened.
    NestedArchive,
}

impl UploadErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UploadErrorKind::Unreadable => "unreadable",
            UploadErrorKind::Decode => "decode",
            UploadErrorKind::Limit => "limit",
            UploadErrorKind::Archive => "archive",
            UploadErrorKind::NotAFile => "not_a_file",
            UploadErrorKind::NestedArchive => "nested_archive",
        }
    }
}

/// A failure tied to one upload; becomes a status row, never stops the run.
#[derive(Debug, Clone, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[error("{message}")]
pub struct UploadError {
    pub kind: UploadErrorKind,
    pub message: String,
}

impl UploadError {
    pub fn new(kind: UploadErrorKind, message: impl Into<String>) -> Self {
        UploadError { kind, message: message.into() }
    }
}
