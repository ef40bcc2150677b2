//! The digest to search for: [`Target`], parsed from 64 hex digits or made from a password,
//! and the SHA-256 function the search (`search.rs`) hashes every candidate with.

use super::CrackError;
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// A SHA-256 digest to find the password of.
///
/// ```
/// use level_3_advanced::projects::cracker::Target;
///
/// let target: Target = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824".parse()?;
/// assert_eq!(target, Target::of_password("hello"));
/// assert_eq!(target.to_string(), "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
/// assert!("2cf2".parse::<Target>().is_err());
/// # Ok::<(), level_3_advanced::projects::cracker::CrackError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Target([u8; 32]);

impl Target {
    /// Parses 64 hexadecimal digits, upper or lower case, surrounding whitespace ignored (as
    /// `sha256sum` output, with its file name removed, has none but a newline might).
    ///
    /// # Errors
    /// [`CrackError::HashLength`] for anything but 64 digits, [`CrackError::NotHex`] for a
    /// character that is not a hex digit.
    pub fn from_hex(hex: &str) -> Result<Self, CrackError> {
        let hex = hex.trim();
        let digits: Vec<char> = hex.chars().collect();
        // Report a bad character first: "hello" is better told "not hex" than "wrong length".
        for (position, &c) in digits.iter().enumerate() {
            if !c.is_ascii_hexdigit() {
                return Err(CrackError::NotHex {
                    position: position + 1,
                    found: c,
                });
            }
        }
        if digits.len() != 64 {
            return Err(CrackError::HashLength(digits.len()));
        }
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
            // Both are hex digits: checked above.
            let high = pair[0].to_digit(16).unwrap_or(0);
            let low = pair[1].to_digit(16).unwrap_or(0);
            *byte = u8::try_from(high * 16 + low).unwrap_or(0);
        }
        Ok(Self(bytes))
    }

    /// The SHA-256 digest of `password`'s bytes (any text: it is the demo's way of making a
    /// target, not a check of the alphabet).
    pub fn of_password(password: &str) -> Self {
        Self(sha256(password.as_bytes()))
    }

    /// The 32 bytes of the digest.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl FromStr for Target {
    type Err = CrackError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_hex(s)
    }
}

impl fmt::Display for Target {
    /// The 64 lowercase hex digits, as `sha256sum` prints them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

/// The SHA-256 digest of `bytes`.
pub(super) fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_parsing_accepts_upper_case_and_surrounding_whitespace() {
        let lower = Target::of_password("abc");
        let upper = format!("  {}\n", lower.to_string().to_uppercase());
        assert_eq!(Target::from_hex(&upper).unwrap(), lower);
    }

    #[test]
    fn malformed_hashes_say_what_is_wrong() {
        assert!(matches!(
            Target::from_hex("abc"),
            Err(CrackError::HashLength(3))
        ));
        assert!(matches!(
            Target::from_hex(""),
            Err(CrackError::HashLength(0))
        ));
        let with_g = format!("{}g", "0".repeat(63));
        assert!(matches!(
            Target::from_hex(&with_g),
            Err(CrackError::NotHex {
                position: 64,
                found: 'g'
            })
        ));
        let message = Target::from_hex("hello").unwrap_err().to_string();
        assert!(message.contains("hex digits"), "{message}");
    }
}
