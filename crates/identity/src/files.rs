//! Reading the small files an operator points the node at (configuration, keys, certificates,
//! the admin token): regular files only, and never more than a cap.
//!
//! Without these checks a path to `/dev/zero` (or a symlink to it) is read until memory runs
//! out, and a FIFO blocks the node's start forever. The type of the file is checked before it
//! is opened (opening a FIFO for reading blocks), and the read stops one byte past the cap, so
//! a file that grows meanwhile cannot pass either.

use std::{
    fmt,
    fs::File,
    io::{self, Read},
    path::Path,
};

/// Why [`read`] refused or failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum FileError {
    /// Nothing at the path.
    NotFound,
    /// The path is a directory, FIFO, socket or device; the text names which.
    NotRegular(&'static str),
    /// The file holds more than the cap.
    TooLarge {
        /// The cap, in bytes.
        max: u64,
    },
    /// Any other I/O error (permissions...).
    Io(io::Error),
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound => f.write_str("no such file"),
            Self::NotRegular(kind) => write!(
                f,
                "it is a {kind}, not a regular file; point at the file itself"
            ),
            Self::TooLarge { max } => write!(
                f,
                "the file is larger than {}, far more than such a file holds; is this the right file?",
                size_text(*max)
            ),
            Self::Io(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for FileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(error) => Some(error),
            _ => None,
        }
    }
}

/// `1 MiB`, `4 KiB` or `300 bytes`.
pub fn size_text(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

/// Reads the whole regular file at `path` (symlinks followed) if it holds at most `max` bytes.
pub fn read(path: &Path, max: u64) -> Result<Vec<u8>, FileError> {
    let metadata = std::fs::metadata(path).map_err(|error| match error.kind() {
        io::ErrorKind::NotFound => FileError::NotFound,
        _ => FileError::Io(error),
    })?;
    if !metadata.is_file() {
        return Err(FileError::NotRegular(kind_of(&metadata.file_type())));
    }
    if metadata.len() > max {
        return Err(FileError::TooLarge { max });
    }
    let file = File::open(path).map_err(FileError::Io)?;
    let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(FileError::Io)?;
    if bytes.len() as u64 > max {
        return Err(FileError::TooLarge { max });
    }
    Ok(bytes)
}

/// What a non-regular file is, in words.
fn kind_of(file_type: &std::fs::FileType) -> &'static str {
    if file_type.is_dir() {
        return "directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "FIFO (named pipe)";
        }
        if file_type.is_socket() {
            return "socket";
        }
        if file_type.is_char_device() {
            return "character device";
        }
        if file_type.is_block_device() {
            return "block device";
        }
    }
    "special file"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_regular_file_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.toml");
        std::fs::write(&path, b"x = 1\n").unwrap();
        assert_eq!(read(&path, 6).unwrap(), b"x = 1\n");
    }

    #[test]
    fn a_file_over_the_cap_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        std::fs::write(&path, vec![b'a'; 101]).unwrap();
        let error = read(&path, 100).unwrap_err();
        assert!(matches!(error, FileError::TooLarge { max: 100 }), "{error}");
        assert!(error.to_string().contains("100 bytes"), "{error}");
    }

    #[test]
    fn directories_and_missing_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            read(dir.path(), 100),
            Err(FileError::NotRegular("directory"))
        ));
        assert!(matches!(
            read(&dir.path().join("nothing"), 100),
            Err(FileError::NotFound)
        ));
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_to_dev_zero_is_refused_without_reading_it() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("node.toml");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        let error = read(&link, 1 << 20).unwrap_err();
        assert!(
            matches!(error, FileError::NotRegular("character device")),
            "{error}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("node.key");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.unwrap().success(), "mkfifo {}", fifo.display());
        let error = read(&fifo, 1 << 20).unwrap_err();
        assert!(matches!(error, FileError::NotRegular(kind) if kind.starts_with("FIFO")));
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(size_text(1 << 20), "1 MiB");
        assert_eq!(size_text(4096), "4 KiB");
        assert_eq!(size_text(1000), "1000 bytes");
    }
}
