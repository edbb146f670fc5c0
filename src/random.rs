//! Random bytes from the system's generator (aws-lc-rs, the crate's crypto backend), for the
//! tokens and IDs that must not collide across processes: claim tokens, fetch leases, consumer
//! names, trace IDs.

use aws_lc_rs::rand::SecureRandom as _;

/// `N` random bytes; `None` when the system has no randomness to give.
pub(crate) fn bytes<const N: usize>() -> Option<[u8; N]> {
    let mut bytes = [0u8; N];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut bytes)
        .ok()
        .map(|()| bytes)
}

/// `N` random bytes in lowercase hex (`2 × N` characters); `None` as for [`bytes`].
pub(crate) fn hex<const N: usize>() -> Option<String> {
    bytes::<N>().map(|bytes| bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn random_hex_is_hex_of_its_length_and_differs() {
        let (a, b) = (super::hex::<16>().unwrap(), super::hex::<16>().unwrap());
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')));
        assert_ne!(a, b);
    }
}
