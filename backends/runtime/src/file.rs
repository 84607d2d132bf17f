use std::fmt;

/// A file that regctl writes into a container, such as a registry
/// configuration that contains credentials.
///
/// `Debug` leaves the contents out, so logging the value cannot leak them.
#[derive(Clone, PartialEq, Eq)]
pub struct ContainerFile {
    /// Absolute path inside the container.
    pub path: String,
    pub contents: Vec<u8>,
    /// Permission bits, such as `0o600`.
    pub mode: u32,
    /// Owner inside the container.
    pub uid: u64,
    pub gid: u64,
}

impl fmt::Debug for ContainerFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContainerFile")
            .field("path", &self.path)
            .field("contents", &format_args!("[{} bytes]", self.contents.len()))
            .field("mode", &format_args!("{:o}", self.mode))
            .field("uid", &self.uid)
            .field("gid", &self.gid)
            .finish()
    }
}

/// Returns the contents of the first regular file in a tar archive, as the
/// engines' archive endpoints return a single file.
pub fn file_from_archive(archive: &[u8]) -> std::io::Result<Option<Vec<u8>>> {
    let mut reader = tar::Archive::new(archive);
    for entry in reader.entries()? {
        let mut entry = entry?;
        if entry.header().entry_type().is_file() {
            let mut contents = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut contents)?;
            return Ok(Some(contents));
        }
    }
    Ok(None)
}

impl ContainerFile {
    /// Packs the file into a tar archive to extract at `/`. The archive also
    /// contains the file's own directory, owned by the same user and closed to
    /// others (0700), which must therefore be a directory only regctl uses.
    /// Higher directories are left out, because extracting an entry for an
    /// existing directory such as `/etc` would change its mode.
    pub fn to_archive(&self) -> std::io::Result<Vec<u8>> {
        let relative = self.path.trim_start_matches('/');
        let mut builder = tar::Builder::new(Vec::new());

        if let Some((parent, _)) = relative.rsplit_once('/') {
            let mut header = self.header(tar::EntryType::Directory, 0o700, 0);
            builder.append_data(&mut header, format!("{parent}/"), std::io::empty())?;
        }

        let mut header = self.header(tar::EntryType::Regular, self.mode, self.contents.len());
        builder.append_data(&mut header, relative, self.contents.as_slice())?;

        builder.into_inner()
    }

    fn header(&self, kind: tar::EntryType, mode: u32, size: usize) -> tar::Header {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_uid(self.uid);
        header.set_gid(self.gid);
        header.set_size(size as u64);
        header.set_mtime(0);
        header
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_contents() {
        let file = ContainerFile {
            path: "/etc/regctl/config.yml".to_owned(),
            contents: b"secretkey: sentinel-value".to_vec(),
            mode: 0o600,
            uid: 0,
            gid: 0,
        };

        let debug = format!("{file:?}");

        assert!(!debug.contains("sentinel-value"), "{debug}");
        assert!(debug.contains("[25 bytes]"), "{debug}");
    }

    #[test]
    fn archive_has_own_directory_and_mode() {
        let file = ContainerFile {
            path: "/etc/regctl/config.yml".to_owned(),
            contents: b"version: 0.1\n".to_vec(),
            mode: 0o600,
            uid: 0,
            gid: 0,
        };

        let archive = file.to_archive().unwrap();
        let mut reader = tar::Archive::new(archive.as_slice());
        let entries: Vec<(String, u32)> = reader
            .entries()
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                let path = entry.path().unwrap().display().to_string();
                (path, entry.header().mode().unwrap())
            })
            .collect();

        assert_eq!(
            entries,
            [
                ("etc/regctl/".to_owned(), 0o700),
                ("etc/regctl/config.yml".to_owned(), 0o600)
            ]
        );
    }
}
