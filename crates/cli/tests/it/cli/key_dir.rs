//! `fake serve`'s key directory: refused when others can write to it, not ours or a symlink;
//! keys written without following symlinks; a private directory created.

use super::*;

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_serve_refuses_a_key_dir_others_can_write_to_or_that_is_not_ours() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    for mode in [0o777, 0o770, 0o722] {
        let dir = TempDir::new();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(mode)).unwrap();
        let (_, out, _serving) = fake_serve(&["--key-dir".as_ref(), dir.path().as_os_str()]).await;
        let out = out.unwrap_or_else(|| panic!("served with a key dir of mode {mode:o}"));
        assert_fails(&out, 2, "writable by");
        assert!(
            std::fs::read_dir(dir.path()).unwrap().next().is_none(),
            "a file was written in a directory of mode {mode:o}"
        );
    }

    // Another user's directory (as root: one given to `nobody`; otherwise: `/`, root's).
    let dir = TempDir::new();
    let ours = std::fs::metadata(dir.path()).unwrap().uid();
    let foreign = if ours == 0 {
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::chown(dir.path(), Some(65534), Some(65534)).unwrap();
        dir.path().to_owned()
    } else {
        std::path::PathBuf::from("/")
    };
    let (_, out, _serving) = fake_serve(&["--key-dir".as_ref(), foreign.as_os_str()]).await;
    let out = out.expect("served with another user's key dir");
    assert_fails(&out, 2, "belongs to another user");
    assert!(!foreign.join("private.pem").exists());
}

/// A `private.pem` (or `public.pem`) that is a symlink to another file: the key does not go
/// through it; the link is replaced by a file of this user's only.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_serve_writes_keys_without_following_symlinks() {
    use std::os::unix::fs::PermissionsExt;
    let victims = TempDir::new();
    let profile = victims.file("profile", b"export PATH=/usr/bin\n");
    let notes = victims.file("notes", b"my notes\n");
    let dir = TempDir::new();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::symlink(&profile, dir.path().join("private.pem")).unwrap();
    std::os::unix::fs::symlink(&notes, dir.path().join("public.pem")).unwrap();

    let (lines, out, _serving) = fake_serve(&["--key-dir".as_ref(), dir.path().as_os_str()]).await;
    assert!(out.is_none(), "fake serve ended: {out:?}");
    assert!(lines.iter().any(|l| l.starts_with("# private key:")));
    assert_eq!(
        std::fs::read_to_string(&profile).unwrap(),
        "export PATH=/usr/bin\n",
        "the key went through the symlink"
    );
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "my notes\n");
    assert_eq!(
        std::fs::metadata(&profile).unwrap().permissions().mode() & 0o777,
        0o644
    );
    let private = dir.path().join("private.pem");
    let meta = std::fs::symlink_metadata(&private).unwrap();
    assert!(meta.file_type().is_file(), "{meta:?}");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert!(std::fs::read_to_string(&private)
        .unwrap()
        .contains("PRIVATE KEY"));
    assert!(std::fs::symlink_metadata(dir.path().join("public.pem"))
        .unwrap()
        .file_type()
        .is_file());
    // No temporary file is left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}

/// `--key-dir` naming a symbolic link to a directory elsewhere (what an attacker swaps in
/// between the check and the writes: the probe got the key pair written elsewhere 5 times of
/// 5): refused, and nothing is written where it points. The directory is opened once without
/// following a link, and the keys are created relative to that handle, so a swap after the
/// check is written into the directory that was checked.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_serve_refuses_a_key_dir_that_is_a_symlink_and_writes_nothing_through_it() {
    use std::os::unix::fs::PermissionsExt;
    let elsewhere = TempDir::new();
    std::fs::set_permissions(elsewhere.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let parent = TempDir::new();
    let link = parent.path().join("keys");
    std::os::unix::fs::symlink(elsewhere.path(), &link).unwrap();
    let (_, out, _serving) = fake_serve(&["--key-dir".as_ref(), link.as_os_str()]).await;
    let out = out.expect("fake serve refused the link");
    assert_fails(&out, 2, "symbolic link");
    assert_eq!(
        std::fs::read_dir(elsewhere.path()).unwrap().count(),
        0,
        "a key was written through the link"
    );
}

/// A key dir that does not exist yet is created for this user only.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_serve_creates_a_private_key_dir() {
    use std::os::unix::fs::PermissionsExt;
    let parent = TempDir::new();
    let dir = parent.path().join("keys");
    let (_, out, _serving) = fake_serve(&["--key-dir".as_ref(), dir.as_os_str()]).await;
    assert!(out.is_none(), "fake serve ended: {out:?}");
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
}
