//! Inputs as a stream of members: a folder, a single file, or an archive (.tar,
//! .tar.gz, .tar.zst, .zip, told apart by their first bytes). One member at a time is
//! spooled to a private temporary file for FFmpeg; a whole archive is never extracted.
//! Member names are ids only, never used as file-system paths.

use crate::error::{Error, Result, UploadError, UploadErrorKind};
use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

/// Bounds on what one archive may expand to (`Config::archive_limits`).
#[derive(Clone, Debug, serde::Serialize)]
pub struct Limits {
    pub max_member_bytes: u64,
    pub max_total_bytes: u64,
}

/// Where a member's bytes are.
pub enum Source {
    /// A file of the input folder, read in place.
    InPlace(PathBuf),
    /// A member copied out of an archive; deleted when dropped.
    Spooled(tempfile::TempPath),
    /// Nothing to decode: the member was refused.
    Refused(UploadError),
}

impl Source {
    pub fn path(&self) -> Option<&Path> {
        match self {
            Source::InPlace(p) => Some(p),
            Source::Spooled(t) => Some(t),
            Source::Refused(_) => None,
        }
    }
}

/// One upload (or catalogue video) of an input.
pub struct Member {
    /// The input it came from, as given on the command line.
    pub archive: String,
    /// Its path inside the input: a folder-relative path or an archive member name.
    pub id: String,
    pub size: u64,
    pub source: Source,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Folder,
    Plain,
    Tar,
    TarGz,
    TarZst,
    Zip,
}

/// What an input is, by its first bytes.
pub fn kind_of(path: &Path) -> Result<Kind> {
    if path.is_dir() {
        return Ok(Kind::Folder);
    }
    let mut head = [0u8; 512];
    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io(path, e)),
        }
    }
    let head = &head[..n];
    Ok(if head.starts_with(&[0x1f, 0x8b]) {
        Kind::TarGz
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Kind::TarZst
    } else if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        Kind::Zip
    } else if head.len() >= 262 && &head[257..262] == b"ustar" {
        Kind::Tar
    } else {
        Kind::Plain
    })
}

/// The archive kind of a member, if it is one (by its first bytes), for refusing
/// archives nested in archives; an unreadable file is left to the decoder to report.
pub fn nested_kind(path: &Path) -> Option<&'static str> {
    match kind_of(path).ok()? {
        Kind::Tar => Some("tar"),
        Kind::TarGz => Some("gzip"),
        Kind::TarZst => Some("zstd"),
        Kind::Zip => Some("zip"),
        Kind::Folder | Kind::Plain => None,
    }
}

/// Bytes an archive has expanded to so far. It counts every regular member, wanted
/// or not, so that each shard refuses exactly the members an unsharded run
/// refuses.
struct Expansion {
    total: u64,
    limit: u64,
}

impl Expansion {
    /// Counts a member of `size` bytes, or refuses it when it would pass the limit.
    fn add(&mut self, size: u64) -> Option<UploadError> {
        if self.total.saturating_add(size) > self.limit {
            return Some(UploadError::new(
                UploadErrorKind::Limit,
                format!("archive expands past the limit of {} bytes", self.limit),
            ));
        }
        self.total += size;
        None
    }
}

/// Copies at most `limit` bytes of `r` into a new temporary file in `dir`.
/// `Ok(Err(..))`: the member is over the limit; `Err`: the reader failed.
fn spool(
    r: &mut dyn Read,
    dir: &Path,
    limit: u64,
) -> io::Result<std::result::Result<(tempfile::TempPath, u64), UploadError>> {
    let mut tmp = tempfile::Builder::new().prefix("member-").tempfile_in(dir)?;
    let copied = io::copy(&mut r.take(limit + 1), tmp.as_file_mut())?;
    if copied > limit {
        // Read the rest through, so that damage in it is found here as in any other member.
        io::copy(r, &mut io::sink())?;
        return Ok(Err(UploadError::new(
            UploadErrorKind::Limit,
            format!("member is larger than the limit of {limit} bytes"),
        )));
    }
    tmp.as_file_mut().flush()?;
    Ok(Ok((tmp.into_temp_path(), copied)))
}

/// How a walk reads its input.
pub struct WalkOptions<'a> {
    pub limits: &'a Limits,
    /// The members handed on, by (archive, member id): a shard's, or those a review
    /// shows. The others are read through (an archive's), never spooled.
    pub wanted: &'a dyn Fn(&str, &str) -> bool,
    /// In folders, follow symbolic links to files and folders (a catalogue assembled
    /// from a media store by links); otherwise a link is refused as `not_a_file`, as an
    /// upload folder's are.
    pub follow_links: bool,
    /// Where members are spooled.
    pub tmp: &'a Path,
}

impl WalkOptions<'_> {
    fn owns(&self, archive: &str, id: &str) -> bool {
        (self.wanted)(archive, id)
    }
}

/// Calls `f` with every wanted member of `input`, in a stable order (folders sorted,
/// archives in stored order); the others are never spooled. `f` returns false to stop
/// early. Damage inside an archive ends that archive with a refused member of kind
/// `archive`; only an unreadable input is an `Err`.
pub fn walk(input: &Path, o: &WalkOptions, f: &mut dyn FnMut(Member) -> bool) -> Result<()> {
    let archive = input.display().to_string();
    let f = &mut |m: Member| !o.owns(&m.archive, &m.id) || f(m);
    let open = || File::open(input).map_err(|e| Error::io(input, e));
    match kind_of(input)? {
        Kind::Folder => walk_folder(input, &archive, o.follow_links, f),
        Kind::Plain => {
            let size = input.metadata().map_err(|e| Error::io(input, e))?.len();
            let id = input.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| archive.clone());
            f(Member { archive, id, size, source: Source::InPlace(input.to_path_buf()) });
            Ok(())
        }
        Kind::Tar => walk_tar(open()?, &archive, o, f),
        Kind::TarGz => walk_tar(flate2::read::MultiGzDecoder::new(open()?), &archive, o, f),
        Kind::TarZst => {
            let dec = zstd::stream::read::Decoder::new(open()?).map_err(|e| Error::io(input, e))?;
            walk_tar(dec, &archive, o, f)
        }
        Kind::Zip => walk_zip(open()?, &archive, o, f),
    }
}

fn walk_folder(root: &Path, archive: &str, follow_links: bool, f: &mut dyn FnMut(Member) -> bool) -> Result<()> {
    let mut stack = vec![root.to_path_buf()];
    let mut files = Vec::new();
    // Folders already listed, by their real path: links can make a cycle.
    let mut seen = std::collections::HashSet::new();
    while let Some(dir) = stack.pop() {
        if follow_links && !seen.insert(std::fs::canonicalize(&dir).map_err(|e| Error::io(&dir, e))?) {
            continue;
        }
        for entry in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            let path = entry.path();
            let mut meta = std::fs::symlink_metadata(&path).map_err(|e| Error::io(&path, e))?;
            if follow_links && meta.file_type().is_symlink() {
                // A dangling link stays a link: refused below, with the others.
                meta = std::fs::metadata(&path).unwrap_or(meta);
            }
            if meta.is_dir() {
                stack.push(path);
            } else {
                files.push((path, meta));
            }
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, meta) in files {
        let id = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().into_owned();
        let source = if meta.is_file() {
            Source::InPlace(path.clone())
        } else {
            Source::Refused(UploadError::new(UploadErrorKind::NotAFile, "not a regular file (link, device or socket)"))
        };
        if !f(Member { archive: archive.to_string(), id, size: meta.len(), source }) {
            break;
        }
    }
    Ok(())
}

fn archive_damage(archive: &str, e: impl std::fmt::Display) -> Member {
    Member {
        archive: archive.to_string(),
        id: String::new(),
        size: 0,
        source: Source::Refused(UploadError::new(
            UploadErrorKind::Archive,
            format!("archive {archive} is damaged: {e}; members after this point are lost"),
        )),
    }
}

fn walk_tar(r: impl Read, archive: &str, o: &WalkOptions, f: &mut dyn FnMut(Member) -> bool) -> Result<()> {
    let mut ar = tar::Archive::new(r);
    let entries = match ar.entries() {
        Ok(e) => e,
        Err(e) => {
            f(archive_damage(archive, e));
            return Ok(());
        }
    };
    let mut expansion = Expansion { total: 0, limit: o.limits.max_total_bytes };
    for entry in entries {
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) => {
                f(archive_damage(archive, e));
                return Ok(());
            }
        };
        let id = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let size = entry.size();
        let kind = entry.header().entry_type();
        if kind.is_dir()
            || kind.is_pax_global_extensions()
            || kind.is_pax_local_extensions()
            || kind.is_gnu_longname()
            || kind.is_gnu_longlink()
        {
            continue;
        }
        let source = if !kind.is_file() && !kind.is_contiguous() {
            Source::Refused(UploadError::new(
                UploadErrorKind::NotAFile,
                format!("tar entry of type {kind:?} is not a regular file"),
            ))
        } else if let Some(refused) = expansion.add(size) {
            Source::Refused(refused)
        } else {
            // Another shard's member is read through, not skipped blindly, so that damage
            // inside it is reported with the same words by every shard.
            let copied = if o.owns(archive, &id) {
                spool(&mut entry, o.tmp, o.limits.max_member_bytes).map(Some)
            } else {
                io::copy(&mut entry, &mut io::sink()).map(|_| None)
            };
            match copied {
                Ok(None) => continue,
                Ok(Some(Ok((path, _)))) => Source::Spooled(path),
                Ok(Some(Err(refused))) => Source::Refused(refused),
                Err(e) => {
                    f(Member {
                        archive: archive.to_string(),
                        id,
                        size,
                        source: Source::Refused(UploadError::new(
                            UploadErrorKind::Archive,
                            format!("member is truncated: {e}"),
                        )),
                    });
                    f(archive_damage(archive, e));
                    return Ok(());
                }
            }
        };
        if !f(Member { archive: archive.to_string(), id, size, source }) {
            break;
        }
    }
    Ok(())
}

fn walk_zip<R: Read + Seek>(r: R, archive: &str, o: &WalkOptions, f: &mut dyn FnMut(Member) -> bool) -> Result<()> {
    let mut zip = match zip::ZipArchive::new(r) {
        Ok(z) => z,
        Err(e) => {
            f(archive_damage(archive, e));
            return Ok(());
        }
    };
    let mut expansion = Expansion { total: 0, limit: o.limits.max_total_bytes };
    for i in 0..zip.len() {
        let mut entry = match zip.by_index(i) {
            Ok(e) => e,
            Err(e) => {
                f(archive_damage(archive, e));
                continue;
            }
        };
        if entry.is_dir() {
            continue;
        }
        let id = String::from_utf8_lossy(entry.name_raw()).into_owned();
        let size = entry.size();
        // Counted before the ownership test, as for tar members.
        let over = if entry.is_symlink() { None } else { expansion.add(size) };
        let source = if !o.owns(archive, &id) {
            continue;
        } else if entry.is_symlink() {
            Source::Refused(UploadError::new(UploadErrorKind::NotAFile, "zip entry is a symbolic link"))
        } else if let Some(refused) = over {
            Source::Refused(refused)
        } else {
            match spool(&mut entry, o.tmp, o.limits.max_member_bytes) {
                Ok(Ok((path, _))) => Source::Spooled(path),
                Ok(Err(refused)) => Source::Refused(refused),
                Err(e) => {
                    Source::Refused(UploadError::new(UploadErrorKind::Archive, format!("member cannot be read: {e}")))
                }
            }
        };
        if !f(Member { archive: archive.to_string(), id, size, source }) {
            break;
        }
    }
    Ok(())
}
