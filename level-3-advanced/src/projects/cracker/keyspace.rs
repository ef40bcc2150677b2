//! The keyspace: every password of 1 to `max_len` letters `a`-`z`, numbered from 0, and the
//! [`Cursor`] that walks it without allocating. The search (`search.rs`) splits the index
//! range among its threads and turns each block's first index into a cursor.

use super::CrackError;

/// The characters a password is made of, in index order.
pub const ALPHABET: &[u8; 26] = b"abcdefghijklmnopqrstuvwxyz";

/// The size of [`ALPHABET`], as the base of the index arithmetic.
const BASE: u64 = ALPHABET.len() as u64;

/// The longest password searched when nothing else is asked: 12,356,630 candidates, under a
/// second or two in a release build on the course's 2-core machine.
pub const DEFAULT_MAX_LEN: usize = 5;

/// The longest maximum length [`Keyspace::new`] accepts. 26^10 is about 1.4 × 10^14
/// candidates, which still fits the `u64` index with room to spare, and is already years of
/// work for this program.
pub const MAX_SUPPORTED_LEN: usize = 10;

/// Every password of 1 to `max_len` letters `a`-`z`, numbered from 0: shortest first, then
/// alphabetically.
///
/// ```
/// use level_3_advanced::projects::cracker::Keyspace;
///
/// let keyspace = Keyspace::new(2)?;
/// assert_eq!(keyspace.size(), 26 + 26 * 26);
/// assert_eq!(keyspace.candidate(0).as_deref(), Some("a"));
/// assert_eq!(keyspace.candidate(26).as_deref(), Some("aa"));
/// assert_eq!(keyspace.candidate(701).as_deref(), Some("zz"));
/// assert_eq!(keyspace.candidate(702), None);
/// assert_eq!(keyspace.index_of("ab"), Some(27));
/// # Ok::<(), level_3_advanced::projects::cracker::CrackError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keyspace {
    max_len: usize,
}

impl Keyspace {
    /// The passwords of 1 to `max_len` letters.
    ///
    /// # Errors
    /// [`CrackError::MaxLen`] unless `1 <= max_len <= MAX_SUPPORTED_LEN`.
    pub fn new(max_len: usize) -> Result<Self, CrackError> {
        if (1..=MAX_SUPPORTED_LEN).contains(&max_len) {
            Ok(Self { max_len })
        } else {
            Err(CrackError::MaxLen(max_len))
        }
    }

    /// The longest password in the keyspace.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// How many candidates there are: 26 + 26² + ... + 26^max_len.
    pub fn size(&self) -> u64 {
        Self::first_of_length(self.max_len + 1)
    }

    /// The index of the first password of `len` letters (`a`, `aa`, `aaa`, ...): the number
    /// of shorter ones.
    fn first_of_length(len: usize) -> u64 {
        (1..len).map(|l| BASE.pow(l as u32)).sum()
    }

    /// The candidate at `index`, or `None` past the end.
    pub fn candidate(&self, index: u64) -> Option<String> {
        let cursor = Cursor::at(*self, index)?;
        // Only ASCII letters are ever written into a cursor.
        Some(String::from_utf8_lossy(cursor.word()).into_owned())
    }

    /// The index of `word`, or `None` if it is not in this keyspace (empty, too long, or not
    /// made of `a`-`z`). The inverse of [`candidate`](Self::candidate).
    pub fn index_of(&self, word: &str) -> Option<u64> {
        let len = word.len();
        if len == 0 || len > self.max_len {
            return None;
        }
        let mut rank = 0u64;
        for byte in word.bytes() {
            if !byte.is_ascii_lowercase() {
                return None;
            }
            rank = rank * BASE + u64::from(byte - b'a');
        }
        Some(Self::first_of_length(len) + rank)
    }

    /// Checks that `password` is in this keyspace, saying why not if it is not: for a front
    /// end that hashes a password given on the command line, where a password that cannot be
    /// found should be an error at once, not a long search.
    ///
    /// # Errors
    /// [`CrackError::BadPassword`], with the reason.
    pub fn check_password(&self, password: &str) -> Result<(), CrackError> {
        let bad = |reason: String| CrackError::BadPassword {
            password: password.to_owned(),
            reason,
        };
        if password.is_empty() {
            return Err(bad("is empty: give 1 or more letters a-z".to_owned()));
        }
        if let Some(c) = password.chars().find(|c| !c.is_ascii_lowercase()) {
            return Err(bad(format!(
                "has {c:?}: only lowercase letters a-z are searched"
            )));
        }
        if password.len() > self.max_len {
            return Err(bad(format!(
                "has {} letters, more than the maximum length {} searched (raise --max-len)",
                password.len(),
                self.max_len
            )));
        }
        Ok(())
    }
}

/// One candidate, kept as bytes and advanced in place, so the search loop allocates nothing.
#[derive(Debug, Clone)]
pub(super) struct Cursor {
    /// One byte more than the longest password: advancing past the keyspace's last word
    /// (which the search never hashes) must not overflow.
    letters: [u8; MAX_SUPPORTED_LEN + 1],
    len: usize,
}

impl Cursor {
    /// The candidate at `index`, or `None` past the end of `keyspace`.
    pub(super) fn at(keyspace: Keyspace, index: u64) -> Option<Self> {
        if index >= keyspace.size() {
            return None;
        }
        let mut len = 1;
        while index >= Keyspace::first_of_length(len + 1) {
            len += 1;
        }
        let mut rank = index - Keyspace::first_of_length(len);
        let mut letters = [b'a'; MAX_SUPPORTED_LEN + 1];
        for slot in letters[..len].iter_mut().rev() {
            *slot = ALPHABET[(rank % BASE) as usize];
            rank /= BASE;
        }
        Some(Self { letters, len })
    }

    pub(super) fn word(&self) -> &[u8] {
        &self.letters[..self.len]
    }

    /// Moves to the next index: like an odometer, `abz` becomes `aca`, and `zzz` becomes
    /// `aaaa`.
    pub(super) fn advance(&mut self) {
        for slot in self.letters[..self.len].iter_mut().rev() {
            if *slot < b'z' {
                *slot += 1;
                return;
            }
            *slot = b'a';
        }
        // Every letter wrapped: the next word is one letter longer, all `a`.
        if self.len < self.letters.len() {
            self.letters[self.len] = b'a';
            self.len += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_keyspace_sizes_add_up_the_lengths() {
        assert_eq!(Keyspace::new(1).unwrap().size(), 26);
        assert_eq!(Keyspace::new(3).unwrap().size(), 26 + 676 + 17_576);
        assert_eq!(Keyspace::new(5).unwrap().size(), 12_356_630);
    }

    #[test]
    fn a_maximum_length_outside_the_supported_range_is_refused() {
        assert!(matches!(Keyspace::new(0), Err(CrackError::MaxLen(0))));
        assert!(matches!(Keyspace::new(11), Err(CrackError::MaxLen(11))));
        assert!(Keyspace::new(MAX_SUPPORTED_LEN).is_ok());
    }

    #[test]
    fn the_cursor_advances_like_an_odometer() {
        let keyspace = Keyspace::new(4).unwrap();
        let mut cursor = Cursor::at(keyspace, keyspace.index_of("abz").unwrap()).unwrap();
        cursor.advance();
        assert_eq!(cursor.word(), b"aca");
        let mut cursor = Cursor::at(keyspace, keyspace.index_of("zzz").unwrap()).unwrap();
        cursor.advance();
        assert_eq!(cursor.word(), b"aaaa");
    }

    #[test]
    fn advancing_past_the_largest_keyspace_does_not_overflow() {
        let keyspace = Keyspace::new(MAX_SUPPORTED_LEN).unwrap();
        let mut cursor = Cursor::at(keyspace, keyspace.size() - 1).unwrap();
        assert_eq!(cursor.word(), [b'z'; MAX_SUPPORTED_LEN]);
        cursor.advance();
        assert_eq!(cursor.len, MAX_SUPPORTED_LEN + 1);
    }

    #[test]
    fn passwords_outside_the_keyspace_are_refused_with_a_reason() {
        let keyspace = Keyspace::new(4).unwrap();
        assert!(keyspace.check_password("dog").is_ok());
        for bad in ["", "Dog", "d0g", "dogs!", "abcde"] {
            let error = keyspace.check_password(bad).unwrap_err();
            assert!(
                matches!(error, CrackError::BadPassword { .. }),
                "{bad:?}: {error}"
            );
        }
        let message = keyspace.check_password("abcde").unwrap_err().to_string();
        assert!(message.contains("--max-len"), "{message}");
    }
}
